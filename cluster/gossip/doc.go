// Package gossip runs memberlist for a raftvip node: every node publishes its health,
// priority, Raft address and version in its node metadata (Meta, at most 512 bytes),
// and learns the others'. Gossip also finds the nodes that form a cluster by
// bootstrap_expect or join one, and counts the messages its encryption turned away.
//
// Gossip carries data and decides nothing: memberlist takes seconds to call a node
// dead, so who holds a VIP is never decided here. Changes reach the node through the
// OnChange callback. gossip must not import cluster.
package gossip
