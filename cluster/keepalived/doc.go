// Package keepalived reads keepalived.conf files and converts one vrrp_instance into a
// raftvip config (`raftvip keepalived convert`): Parse is the parser of keepalived's
// own syntax (includes are not followed), Convert maps an instance onto a config whose
// vrrp section joins the same VRRP group, so that a node can run raftvip beside the
// keepalived nodes it leaves behind, and lists every option it did not convert with
// the reason and what to do instead (why.go).
//
// Everything here is pure: file contents in, YAML and reports out. The converted
// config is loaded with package config before it is returned, so a conversion that
// would not load is an error with the keepalived.conf line at fault. keepalived must
// not import cluster.
package keepalived
