// Package vrrpcompat lets a raftvip cluster take part in a VRRP group (RFC 3768 for
// version 2, RFC 9568 for version 3) next to stock keepalived routers.
//
// It is not wired in yet: the codec, speaker and listener arrive with the mixed-fleet
// work. The package exists so the module layout matches DESIGN §5.
package vrrpcompat
