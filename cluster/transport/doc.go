// Package transport is a node's Raft port: one TCP listener (Mux) that carries both
// hashicorp/raft's NetworkTransport and the cluster RPC, told apart by a first kind
// byte, with mutual TLS 1.3 from the cluster's own CA (TLS) and the counts of the
// handshakes it turned away, by reason.
//
// transport moves bytes and authenticates peers; it knows nothing of Raft's messages,
// the RPC's requests or who holds a VIP, and must not import cluster.
package transport
