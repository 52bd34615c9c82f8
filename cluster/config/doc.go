// Package config loads and validates a raftvip node's YAML configuration: the
// sections of DESIGN §6, their defaults, the timing profiles, the difference between
// a running and a reloaded configuration (Diff), and the commented example that
// `raftvip config example` prints.
//
// Loading is strict: an unknown key, a wrong type or a value out of range is a
// FieldError that gives the file, the line, the field and what would be right, and
// every problem of a file is reported at once (*Error). The decoder is split by the
// section it decodes (node.go, cluster.go, vip.go, groups.go, checks.go, vrrp.go,
// notify.go, security.go), with the rules that span sections in crosscheck.go. A
// group's keys that every node must have alike, and their digest for gossip, are in
// identity.go.
//
// config does no I/O beyond reading the files a config names (the config itself,
// cluster.tls's certificates, the admin token) to check them, and must not import
// cluster: it knows nothing of the running node.
package config
