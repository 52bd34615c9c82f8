// Command raftvip runs the raftvip agent and the operator commands that talk to it.
//
// The binary is thin: main builds the urfave/cli application and runs it. Every verb
// lives in a function that can be tested without a process. It parses arguments and
// formats output, and must not hold logic of its own: the agent is package cluster,
// the configuration cluster/config, the converter cluster/keepalived.
package main
