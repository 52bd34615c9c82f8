// Command raftvip runs the raftvip agent and the operator commands that talk to it.
//
// The binary is thin: main builds the urfave/cli application and runs it. Every verb
// lives in a function that can be tested without a process.
package main
