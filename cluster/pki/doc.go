// Package pki is the cluster's own small certificate authority: it makes the CA and
// the node certificates of `raftvip tls`, and reads and checks a node's cluster.tls
// files (LoadFiles) so that a bad file is named with what to do about it.
//
// Every key is ECDSA P-256; a node certificate serves both ends of a Raft-port
// connection (serverAuth and clientAuth), and peers trust each other by the chain to
// the CA alone.
//
// pki must not use anything but the standard library: it knows nothing of the
// configuration, the transport that uses the certificates, or the rest of raftvip.
package pki
