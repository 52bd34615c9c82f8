// Package probe runs the health checks' single probes, one per check type: haproxy
// (the stats socket's show info, and show stat for a backend's UP servers), http, tcp,
// script (an argv, without a shell, killed with its children on timeout) and process
// (a pid file's process is alive).
//
// A probe answers pass or fail with a line of output; fall, rise, weights and
// intervals are package election's. probe must not import cluster.
package probe
