// Package test is raftvip's end-to-end suite. It builds a lab of Linux network
// namespaces (a bridge, three load balancers running real HAProxy and the raftvip agent,
// and a client), injects faults and checks the promises of DESIGN §1 with an HTTP probe
// through the VIP and an ownership sampler that reads every node's addresses.
//
// The suite needs root. Without it every test skips with one line; with
// RAFTVIP_E2E=require a skip is a failure.
package test
