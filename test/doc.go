// Package test is raftvip's end-to-end suite. It builds a lab of Linux network
// namespaces (a bridge, three load balancers running real HAProxy and the raftvip agent,
// and a client), injects faults and checks the promises of DESIGN §1 with an HTTP probe
// through the VIP and an ownership sampler that reads every node's addresses.
//
// With Options.Keepalived the lab adds nodes ka1, ka2, ... that run stock keepalived
// in the cluster's VRRP group (Options.VRRP); their state transitions are read from
// keepalived's notify FIFO, the sampler counts them, and a Forger sends hand-made VRRP
// packets from any lab namespace.
// With Options.KeepalivedOnly the keepalived nodes are the lab's only load balancers
// (the bench compares them with raftvip), and Options.KeepalivedCheck makes each track
// its own HAProxy with a vrrp_script.
//
// Nothing of the product may import it: it drives the raftvip binary from outside,
// and reads its status as JSON, as an operator's tools would.
//
// The suite needs root. Without it every test skips with one line; with
// RAFTVIP_E2E=require a skip is a failure.
//
// Running it:
//
//	sudo go test ./test/                       # lab self-test and the agent scenarios
//	sudo go test ./test/ -run TestLab -v       # the lab alone, no agent needed
//	sudo go run ./test/demo                    # a guided failover
//	sudo go run ./test/figures -trials 10 -profile lan,fast -out docs/failover.md
//	sudo go run ./test/soak -duration 10m -out docs/soak.md   # random faults for 10 minutes
//	sudo go run ./test/bench -trials 10            # raftvip beside keepalived: docs/benchmarks.md
//
// The soak (Lab.Soak, TestSoak60s for one minute) lets a nemesis inject random faults
// on random nodes while the probe and the sampler run, and reports two-holder time
// inside and outside the freeze bound, availability, recovery per fault kind and stuck
// states; SEED= replays a seed, SOAK= sets the duration of `make soak`.
//
// Environment: RAFTVIP_BIN runs that binary instead of building ./cmd/raftvip once per
// process; RAFTVIP_KEEP=1 keeps every lab's work directory (logs, configs, data) under
// /tmp/raftvip-lab/<prefix>/, which a failed test keeps anyway.
//
// Each lab has its own prefix (rv and four hex digits) for its namespaces
// (<prefix>-br, -cl, -lb1, ...) and a state file that records every process it
// started, so that Sweep, run once per process before the first lab, can clean up
// after a run that died, signalling only processes it verifies as that lab's own.
package test
