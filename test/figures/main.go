// Command figures measures raftvip's failover in the e2e lab: it runs a fault (the
// holder's host unplugged, SIGTERM, HAProxy killed) or an operator's move (`raftvip
// transfer`, `raftvip leave`) a number of times per timing profile and writes the
// client-visible gaps to a markdown file.
//
//	sudo go run ./test/figures -trials 10 -profile lan,fast -out docs/failover.md
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/raftvip/raftvip/test"
)

func main() { os.Exit(run()) }

// trial is one measurement, or the error that stopped it.
type trial struct {
	n   int
	f   test.Failover
	err error
}

func run() int {
	trials := flag.Int("trials", 10, "trials per timing profile")
	profiles := flag.String("profile", "lan,fast", "comma-separated timing profiles")
	scenarios := flag.String("scenario", "unplug,term", "comma-separated faults: unplug (crash failover), term (planned move by SIGTERM), haproxy (HAProxy killed on the holder), transfer (raftvip transfer to another node), leave (raftvip leave on the holder of four nodes), vrrp-stop (every agent stopped by SIGTERM, keepalived at 100 takes over), vrrp-unplug (the holder unplugged next to keepalived at 100), vrrp-foreign (keepalived at 200 crashes, the cluster takes over)")
	out := flag.String("out", "", "markdown file to write (e.g. docs/failover.md); stdout only if empty")
	title := flag.String("title", "Failover in the e2e lab", "heading of the markdown page")
	settle := flag.Duration("settle", 2*time.Second, "how long to keep watching after the failover")
	serve := flag.Duration("serve-timeout", 10*time.Second, "give up on a trial when no survivor answers within this")
	verbose := flag.Bool("v", false, "print the lab's progress lines")
	flag.Parse()
	ctx, cleanup, ok := test.Command("figures")
	if !ok {
		return 2
	}
	defer cleanup()

	logf := func(string, ...any) {}
	if *verbose {
		logf = func(format string, args ...any) { fmt.Printf("    "+format+"\n", args...) }
	}
	if err := test.Sweep(logf); err != nil {
		fmt.Fprintln(os.Stderr, "figures: sweep:", err)
	}
	if _, err := test.Binary(); err != nil {
		fmt.Fprintln(os.Stderr, "figures:", err)
		return 1
	}

	started := time.Now()
	results := map[string][]trial{}
	var names []string
	for _, scenario := range strings.Split(*scenarios, ",") {
		if !slices.Contains(knownScenarios, scenario) {
			fmt.Fprintf(os.Stderr, "figures: unknown scenario %q; use %s\n", scenario, strings.Join(knownScenarios, ", "))
			return 2
		}
		for _, profile := range strings.Split(*profiles, ",") {
			name := profile + " " + scenario
			names = append(names, name)
			for i := 1; i <= *trials && ctx.Err() == nil; i++ {
				tr := trial{n: i}
				tr.f, tr.err = measure(ctx, profile, scenario, i, *serve, *settle, logf)
				if ctx.Err() != nil {
					break
				}
				results[name] = append(results[name], tr)
				if tr.err != nil {
					fmt.Printf("%-12s %2d/%d  error: %v\n", name, i, *trials, tr.err)
				} else {
					fmt.Printf("%-12s %2d/%d  %v\n", name, i, *trials, tr.f)
				}
			}
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "figures: interrupted; nothing written")
		return 130
	}
	md := report(*title, names, results, *trials, *profiles, *scenarios, started)
	fmt.Print("\n" + md)
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "figures:", err)
			return 1
		}
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "figures:", err)
			return 1
		}
		fmt.Println("wrote", *out)
	}
	return checkPromises(results)
}

// checkPromises fails the run when a profile's crash failovers broke DESIGN's
// promise by far (test.CheckFailoverMedian); the page is written either way.
func checkPromises(results map[string][]trial) int {
	rc := 0
	for name, trs := range results {
		profile, scenario, _ := strings.Cut(name, " ")
		if scenario != "unplug" {
			continue
		}
		var gaps []time.Duration
		for _, tr := range trs {
			if tr.err == nil {
				gaps = append(gaps, tr.f.Gap)
			}
		}
		if err := test.CheckFailoverMedian(profile, gaps); err != nil {
			fmt.Fprintln(os.Stderr, "figures: promise broken:", err)
			rc = 1
		}
	}
	return rc
}

// knownScenarios are the values of -scenario.
var knownScenarios = []string{"unplug", "term", "haproxy", "transfer", "leave", "vrrp-stop", "vrrp-unplug", "vrrp-foreign"}

// measure builds a fresh lab with the profile, waits for a holder, applies the fault
// or the operator's move and measures; the lab is always torn down. trial (1-based)
// picks the target of a transfer: the two other nodes in turn.
func measure(ctx context.Context, profile, scenario string, trial int, serve, settle time.Duration, logf func(string, ...any)) (f test.Failover, err error) {
	opts := test.Options{}
	switch scenario {
	case "haproxy":
		opts = test.HealthOptions(healthInterval, healthFall, 10*time.Second, nil)
	case "leave":
		opts.Nodes = 4 // three voters remain: leave needs no --force
	case "vrrp-stop", "vrrp-unplug":
		opts = test.KeepalivedLab(test.VRRPOptions{}, 100)
	case "vrrp-foreign":
		opts = test.KeepalivedLab(test.VRRPOptions{}, 200)
	}
	opts.Timing, opts.StartAgents, opts.Logf = profile, scenario != "vrrp-foreign", logf
	l, err := test.New(opts)
	if err != nil {
		return f, err
	}
	defer func() {
		if err != nil {
			l.Keep()
			err = fmt.Errorf("%w (logs kept in %s)", err, l.Dir)
		}
		if cerr := l.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if scenario == "vrrp-foreign" {
		return measureForeign(ctx, l, serve, settle)
	}
	h, err := l.WaitForHolderContext(ctx, 30*time.Second)
	if err != nil {
		return f, err
	}
	if strings.HasPrefix(scenario, "vrrp-") {
		// keepalived at 100 joins as the cluster's VRRP backup.
		ka := l.Node("ka1")
		if err := l.StartKeepalived(ka); err != nil {
			return f, err
		}
		if _, err := l.WaitKeepalivedState(ka, "BACKUP", 5*time.Second); err != nil {
			return f, err
		}
	}
	if scenario == "haproxy" {
		// Measure from the steady state: lb1, the preferred node, holding after any
		// preemption that followed the first election.
		if h, err = l.WaitForSteadyHolder(ctx, l.Node("lb1"), 2*time.Second, 30*time.Second); err != nil {
			return f, err
		}
	}
	switch scenario {
	case "term":
		return l.MeasureTerm(ctx, h, serve, settle)
	case "haproxy":
		return l.MeasureFault(ctx, h, func() error { return l.KillHAProxy(h) }, serve, settle)
	case "transfer":
		others := l.Others(h)
		return l.MeasureTransfer(ctx, h, others[trial%len(others)], serve, settle)
	case "leave":
		return l.MeasureLeave(ctx, h, serve, settle)
	case "vrrp-stop":
		return l.MeasureFault(ctx, h, func() error {
			_, err := l.TermAgents(15*time.Second, l.Nodes...)
			return err
		}, serve, settle)
	}
	return l.MeasureUnplug(ctx, h, serve, settle)
}

// measureForeign is vrrp-foreign: keepalived ka1 at 200 is MASTER before the agents
// start, the cluster holds back, then ka1's host dies (keepalived SIGKILLed, the node
// unplugged, its VIP gone) and the cluster claims after its master-down interval.
func measureForeign(ctx context.Context, l *test.Lab, serve, settle time.Duration) (test.Failover, error) {
	ka := l.Node("ka1")
	if err := l.StartKeepalived(ka); err != nil {
		return test.Failover{}, err
	}
	if _, err := l.WaitKeepalivedState(ka, "MASTER", 10*time.Second); err != nil {
		return test.Failover{}, err
	}
	if err := l.StartAgents(); err != nil {
		return test.Failover{}, err
	}
	if _, _, err := l.WaitVRRPBackup(ctx, 30*time.Second); err != nil {
		return test.Failover{}, err
	}
	return l.MeasureFault(ctx, ka, func() error { return l.CrashKeepalived(ka) }, serve, settle)
}

// The health check of the haproxy scenario: the acceptance bound of a health failover
// is interval × fall + 300 ms.
const (
	healthInterval = 200 * time.Millisecond
	healthFall     = 2
)

// report renders the markdown page.
func report(title string, profiles []string, results map[string][]trial, trials int, profileFlag, scenarioFlag string, started time.Time) string {
	var b strings.Builder
	osrel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "Generated by `go run ./test/figures -trials %d -profile %s -scenario %s` on %s, %d CPUs, Linux %s, %s.\n\n",
		trials, profileFlag, scenarioFlag, started.UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(),
		strings.TrimSpace(string(osrel)), runtime.Version())
	b.WriteString("Each trial builds a fresh lab (three agents, four for *leave*, HAProxy on each node, a client, all in network\n" +
		"namespaces on one bridge), waits for a holder, probes the IPv4 VIP over HTTP every 10 ms\n" +
		"from the client (new connection each time) and samples every node's addresses every 10 ms,\n" +
		"then applies the fault: *unplug* takes the holder's bridge port down (a crash as the\n" +
		"network sees it), *term* sends SIGTERM to the holder's agent (a planned move: drain,\n" +
		"release, leadership transfer), *haproxy* SIGKILLs HAProxy on the holder (a health\n" +
		"failover: every node runs the `haproxy` check every " + healthInterval.String() + " with fall " + fmt.Sprint(healthFall) + ", weight 0,\n" +
		"so the bound is interval × fall + 300 ms = " + (healthInterval*healthFall + 300*time.Millisecond).String() + "), *transfer* runs `raftvip transfer NODE` on the\n" +
		"holder (an operator's planned move, to each of the two other nodes in turn), *leave* runs\n" +
		"`raftvip leave` on the holder of a four-node lab (planned move, then the node leaves the\n" +
		"cluster and its agent exits 0). *Gap* is the longest interval without a successful\n" +
		"response, from 500 ms before the fault to the end of the trial; *claimed* is the time\n" +
		"from the fault to the first sample with another node holding the VIP; *served* is the\n" +
		"time from the fault to the first response from another node; *two-holder samples*\n" +
		"counts sampler rounds in which two nodes had the VIP (the faulty node included);\n" +
		"*stale announcements* counts ARP/NA frames for the VIP from a node that did not hold it.\n\n")
	if strings.Contains(scenarioFlag, "vrrp-") {
		b.WriteString("The *vrrp-* scenarios add a node running stock keepalived (" + test.KeepalivedBinary() + ") in the cluster's\n" +
			"VRRP group (VRRPv2, VRID 51, advert_int 1 s, multicast; the agents at priority 150):\n" +
			"*vrrp-stop* stops every agent at once with SIGTERM and keepalived at 100 takes the VIP\n" +
			"(the last holder resigns with a priority-0 advert); *vrrp-unplug* unplugs the holder's\n" +
			"host next to keepalived at 100, which must stay BACKUP (its master-down interval is\n" +
			"3.61 s); *vrrp-foreign* starts keepalived at 200 first, so the cluster holds back, then\n" +
			"kills keepalived (SIGKILL, no priority-0 advert), unplugs its host and removes its VIP:\n" +
			"the cluster claims after its master-down interval, 3 × 1 s + (256-150)/256 s = 3.41 s\n" +
			"after keepalived's last advert.\n\n")
	}
	b.WriteString("| profile and fault | trials | median gap | p95 gap | max gap | median claimed | median served | two-holder samples | stale announcements | failed trials |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range profiles {
		var gaps, claimed, served []time.Duration
		multi, stale, failed := 0, 0, 0
		for _, tr := range results[p] {
			if tr.err != nil {
				failed++
				continue
			}
			gaps = append(gaps, tr.f.Gap)
			claimed = append(claimed, tr.f.ClaimedAfter)
			served = append(served, tr.f.ServedAfter)
			multi += tr.f.MultiSamples
			stale += len(tr.f.Stale)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %d | %d | %d |\n", p, len(results[p]),
			test.Millis(test.Median(gaps)), test.Millis(test.Quantile(gaps, 0.95)), test.Millis(test.Quantile(gaps, 1)),
			test.Millis(test.Median(claimed)), test.Millis(test.Median(served)), multi, stale, failed)
	}
	for _, p := range profiles {
		fmt.Fprintf(&b, "\n## %s\n\n", p)
		b.WriteString("| trial | holder → new | gap | claimed | served | failed requests | max holders | two-holder samples | stale announcements |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
		for _, tr := range results[p] {
			if tr.err != nil {
				fmt.Fprintf(&b, "| %d | error: %s | | | | | | | |\n", tr.n, strings.ReplaceAll(tr.err.Error(), "|", "\\|"))
				continue
			}
			f := tr.f
			fmt.Fprintf(&b, "| %d | %s → %s | %s | %s | %s | %d/%d | %d | %d | %d |\n", tr.n, f.Old, f.New,
				test.Millis(f.Gap), test.Millis(f.ClaimedAfter), test.Millis(f.ServedAfter), f.Failures, f.Requests, f.MaxHolders, f.MultiSamples, len(f.Stale))
		}
	}
	return b.String()
}
