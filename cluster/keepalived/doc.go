// Package keepalived reads keepalived.conf files and converts their vrrp_instances into
// a raftvip config (`raftvip keepalived convert`): Parse is the parser of keepalived's
// own syntax (includes are not followed), Convert maps every instance onto a group
// whose vrrp section joins the same VRRP group, so that a node can run raftvip beside
// the keepalived nodes it leaves behind, and lists every option it did not convert
// with the reason and what to do instead (why.go).
//
// A file with one instance, or the one Options.Instance names, becomes the one-group
// form (vip:, with priority, preempt and vrrp at the top level); a file with several
// becomes groups:, one group per instance in file order, named after it, tracking the
// checks of its track_script, with the instances of a vrrp_sync_group placed together
// (groups.go). A node has one set of notify hooks for all its groups (notify.go).
//
// Everything here is pure: file contents in, YAML and reports out. The converted
// config is loaded with package config before it is returned, so a conversion that
// would not load is an error with the keepalived.conf line at fault. keepalived must
// not import cluster.
package keepalived
