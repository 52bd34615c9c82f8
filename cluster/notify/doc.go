// Package notify runs the notify hooks with keepalived's contract: on every change of
// a node's state (MASTER, BACKUP, FAULT, STOP) the state's own hook runs, then the
// generic script with INSTANCE <name> <STATE> <priority> appended.
//
// Hooks run on one goroutine, one at a time, in the order of the transitions, each
// with a timeout; Transition only queues, so a slow hook never holds up the
// election. notify decides no state itself and must not import cluster.
package notify
