// Package logging builds the agent's one structured logger (log/slog) from log.level
// and log.format, and adapts it for the hashicorp libraries (Raft, memberlist), so that
// their lines land in the same stream tagged with a component, with repeated warnings
// about the same peer rate-limited.
//
// logging decides nothing and holds no state of the node; it must not import cluster.
package logging
