package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/raftvip/raftvip/test"
)

// results is one run of the bench, as reported.
type results struct {
	Machine  test.Machine
	Started  time.Time
	Duration time.Duration
	Trials   []*trial
	Idle     map[string]test.UsageWindow // by groupKey
	// Witness is the quiet window of a pair's witness alone, by groupKey.
	Witness map[string]test.UsageWindow
	Config  config
}

// scenarioText says what each scenario does, for the report and the charts.
var scenarioText = map[string]string{
	"unplug":        "the holder's bridge port goes down (its host vanishes from the network; its processes keep running)",
	"unplug-leader": "the Raft leader's bridge port goes down (raftvip only: keepalived has no leader). Where the leader holds nothing (raftvip-lan and -fast, whose leader moves to a node that holds nothing) the group should not move at all: the trial watches it for the observation window instead of waiting for another node to answer; where it holds a group (active-active), that group's failover is measured",
	"kill":          "the holder's daemon is SIGKILLed: the raftvip agent, or keepalived's VRRP child and then its parent (a crash, no priority-0 advert). raftvip's VIP guard, a child process that only waits for the agent's end of a pipe to close, removes the VIP as the agent dies; keepalived leaves the VIP on the holder's eth0 for good, and that node's HAProxy keeps answering",
	"partition":     "nftables rules on the bridge drop every frame between the holder and the two other nodes (in a pair: the other load balancer and the witness); links stay up and the client still reaches every node",
	"haproxy":       "HAProxy is SIGKILLed on the holder; the health check fails",
	"planned":       "a planned move: `raftvip transfer <second node>` on the holder (active-active: `raftvip transfer --group <its group> <the group's second node>`), or SIGTERM to keepalived on the holder (it sends a priority-0 advert and removes the VIP)",
}

// agg is the aggregate of one system and scenario.
type agg struct {
	trials, failedTrials, repairErrors int
	gaps                               []time.Duration
	requests, failures                 int
	maxHolders                         int
	two                                time.Duration // summed over trials
	twoAtEnd                           int
	idle, during                       test.UsageWindow

	// The other groups' probes and holders (systems with several groups).
	others                       int // trials that had other groups
	otherRequests, otherFailures int
	otherMaxHolders              int
	otherTwo                     time.Duration // summed over trials and groups
}

func (r results) aggregate(sys, scen string) agg {
	return r.aggregateWhere(sys, scen, func(*trial) bool { return true })
}

// failoverKind is a kind of failover the section on holders and leaders reports: the
// trials of one scenario whose faulty node held a group, or held none.
type failoverKind struct {
	name     string
	scenario string
	stay     bool // the faulty node held no group: the measured group should not move
}

var failoverKinds = []failoverKind{
	{"a holder that does not lead (unplug)", "unplug", false},
	{"the leader, which holds a group (unplug-leader)", "unplug-leader", false},
	{"the leader, which holds nothing (unplug-leader)", "unplug-leader", true},
}

// aggregateKind aggregates the trials of sys of kind k.
func (r results) aggregateKind(sys string, k failoverKind) agg {
	return r.aggregateWhere(sys, k.scenario, func(tr *trial) bool { return tr.Stay == k.stay })
}

func (r results) aggregateWhere(sys, scen string, keep func(*trial) bool) agg {
	var a agg
	for _, tr := range r.Trials {
		if tr.System != sys || tr.Scenario != scen || !keep(tr) {
			continue
		}
		a.trials++
		if tr.Repair != "" {
			a.repairErrors++
		}
		if tr.Err != "" {
			a.failedTrials++
			continue
		}
		f := tr.F
		a.gaps = append(a.gaps, f.Gap)
		a.requests += f.Requests
		a.failures += f.Failures
		a.maxHolders = max(a.maxHolders, f.MaxHolders)
		a.two += f.MultiDuration
		if tr.TwoAtEnd {
			a.twoAtEnd++
		}
		a.during = a.during.Add(tr.During)
		if len(f.Others) > 0 {
			a.others++
			fl, rq := f.OthersFailed()
			a.otherFailures += fl
			a.otherRequests += rq
			a.otherMaxHolders = max(a.otherMaxHolders, f.OthersMaxHolders())
			a.otherTwo += f.OthersMultiDuration()
		}
	}
	a.idle = r.Idle[groupKey(sys, scen)]
	return a
}

// resources aggregates the usage of a system over every scenario.
func (r results) resources(sys string) (idle, during test.UsageWindow) {
	for _, tr := range r.Trials {
		if tr.System == sys && tr.Err == "" {
			during = during.Add(tr.During)
		}
	}
	for _, scen := range r.Config.scens {
		idle = idle.Add(r.Idle[groupKey(sys, scen)])
	}
	return idle, during
}

func (r results) has(sys, scen string) bool {
	return slices.ContainsFunc(r.Trials, func(tr *trial) bool { return tr.System == sys && tr.Scenario == scen })
}

func mib(b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func pct(w test.UsageWindow) string {
	if w.Span == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", w.CPUPercent())
}

// twoText renders the time with two holders: the sum, and how many trials still had
// two at the end of their observation.
func (a agg) twoText() string {
	s := "0"
	if a.two > 0 {
		s = fmt.Sprintf("%.2f s", a.two.Seconds())
	}
	if a.twoAtEnd > 0 {
		s += fmt.Sprintf(" (still two at the end of %d of %d)", a.twoAtEnd, len(a.gaps))
	}
	return s
}

// othersText renders what the other groups' clients and holders saw: failed
// requests, the most holders of one VIP and the time with two.
func (a agg) othersText() string {
	if a.others == 0 {
		return "–"
	}
	s := fmt.Sprintf("%d of %d failed, max %d holders", a.otherFailures, a.otherRequests, a.otherMaxHolders)
	if a.otherTwo > 0 {
		s += fmt.Sprintf(", two for %.2f s", a.otherTwo.Seconds())
	}
	return s
}

// command is how this run was started.
func (r results) command() string {
	c := r.Config
	s := fmt.Sprintf("go run ./test/bench -trials %d", c.trials)
	if sys := names(c.systems); sys != names(systems) {
		s += " -system " + sys
	}
	if sc := strings.Join(c.scens, ","); sc != strings.Join(scenarios, ",") {
		s += " -scenario " + sc
	}
	return s
}

// summaryTable is the main table.
func (r results) summaryTable() string {
	var b strings.Builder
	b.WriteString("| scenario | system | trials | median gap | p95 gap | max gap | failed requests | max holders | time with two holders (sum) | other groups | CPU idle | CPU in failover | RSS idle | RSS peak |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, scen := range r.Config.scens {
		for _, s := range r.Config.systems {
			if !s.supports(scen) {
				fmt.Fprintf(&b, "| %s | %s | n/a (no Raft leader) | | | | | | | | | | | |\n", scen, s.Name)
				continue
			}
			if !r.has(s.Name, scen) {
				continue
			}
			a := r.aggregate(s.Name, scen)
			var notes []string
			if a.failedTrials > 0 {
				notes = append(notes, fmt.Sprintf("%d failed", a.failedTrials))
			}
			if a.repairErrors > 0 {
				notes = append(notes, fmt.Sprintf("%d repairs failed", a.repairErrors))
			}
			trials := fmt.Sprint(a.trials)
			if len(notes) > 0 {
				trials += " (" + strings.Join(notes, ", ") + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d of %d | %d | %s | %s | %s | %s | %s | %s |\n",
				scen, s.Name, trials,
				test.Millis(test.Median(a.gaps)), test.Millis(test.Quantile(a.gaps, 0.95)), test.Millis(test.Quantile(a.gaps, 1)),
				a.failures, a.requests, a.maxHolders, a.twoText(), a.othersText(),
				pct(a.idle), pct(a.during), mib(a.idle.MeanRSS), mib(a.during.MaxRSS))
		}
	}
	return b.String()
}

// ratio renders a/b for the ratio table.
func ratio(a, b float64) string {
	switch {
	case a == 0 && b == 0:
		return "= (both 0)"
	case b == 0:
		return "∞ (keepalived 0)"
	case a == 0:
		return "0×"
	}
	if a/b < 0.1 {
		return fmt.Sprintf("%.2g×", a/b)
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// cutNote marks a ratio whose keepalived overlap was still open when the observation
// ended: keepalived's figure is a lower bound.
func cutNote(y agg) string {
	if y.twoAtEnd == 0 {
		return ""
	}
	return " (keepalived's overlap still open at the end)"
}

func (r results) ratioTable() string {
	var b strings.Builder
	b.WriteString("| scenario | raftvip ÷ keepalived | median gap | p95 gap | max gap | failed requests | time with two holders |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	rows := 0
	for _, scen := range r.Config.scens {
		for _, p := range pairs {
			if !r.has(p[0], scen) || !r.has(p[1], scen) {
				continue
			}
			x, y := r.aggregate(p[0], scen), r.aggregate(p[1], scen)
			q := func(a agg, q float64) float64 { return float64(test.Quantile(a.gaps, q)) }
			fmt.Fprintf(&b, "| %s | %s ÷ %s | %s | %s | %s | %s | %s |\n", scen, p[0], p[1],
				ratio(q(x, 0.5), q(y, 0.5)), ratio(q(x, 0.95), q(y, 0.95)), ratio(q(x, 1), q(y, 1)),
				ratio(float64(x.failures), float64(y.failures)), ratio(float64(x.two), float64(y.two))+cutNote(y))
			rows++
		}
	}
	if rows == 0 {
		return ""
	}
	return b.String()
}

func (r results) resourceTable() string {
	var b strings.Builder
	b.WriteString("| system | processes | CPU idle | CPU in failover | RSS idle | RSS peak |\n|---|---|---|---|---|---|\n")
	for _, s := range r.Config.systems {
		idle, during := r.resources(s.Name)
		procs := "3 × (agent + VIP guard)"
		switch {
		case s.pair && s.raftvip:
			procs = "2 × (agent + VIP guard) + the witness's agent"
		case s.pair:
			procs = "2 × (parent + VRRP child), script runs included"
		case !s.raftvip:
			procs = "3 × (parent + VRRP child), script runs included"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", s.Name, procs, pct(idle), pct(during), mib(idle.MeanRSS), mib(during.MaxRSS))
	}
	var rows []string
	for _, p := range pairs {
		if !slices.ContainsFunc(r.Config.systems, func(s system) bool { return s.Name == p[0] }) ||
			!slices.ContainsFunc(r.Config.systems, func(s system) bool { return s.Name == p[1] }) {
			continue
		}
		xi, xd := r.resources(p[0])
		yi, yd := r.resources(p[1])
		rows = append(rows, fmt.Sprintf("| %s ÷ %s | | %s | %s | %s | %s |", p[0], p[1],
			ratio(xi.CPUPercent(), yi.CPUPercent()), ratio(xd.CPUPercent(), yd.CPUPercent()),
			ratio(float64(xi.MeanRSS), float64(yi.MeanRSS)), ratio(float64(xd.MaxRSS), float64(yd.MaxRSS))))
	}
	for _, row := range rows {
		b.WriteString(row + "\n")
	}
	for _, s := range r.Config.systems {
		if !s.pair || !s.raftvip {
			continue
		}
		var w test.UsageWindow
		for _, scen := range r.Config.scens {
			w = w.Add(r.Witness[groupKey(s.Name, scen)])
		}
		if w.Span > 0 {
			fmt.Fprintf(&b, "| %s: the witness alone | 1 agent, no guard | %s | | %s | |\n", s.Name, pct(w), mib(w.MeanRSS))
		}
	}
	return b.String()
}

// holderGoal is the goal for replacing a holder that does not lead, per timing
// profile: the median client gap.
var holderGoal = map[string]time.Duration{"lan": 500 * time.Millisecond, "fast": 200 * time.Millisecond}

// verdict is PASS or MISS.
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// goalOf renders the goal for kind k of a raftvip system with profile timing and
// whether a met it; "" when there is no trial.
func goalOf(k failoverKind, timing string, a agg) (goal, result string) {
	if len(a.gaps) == 0 {
		return "", ""
	}
	switch {
	case k.stay:
		return "no failed request", verdict(a.failures == 0)
	case k.scenario == "unplug":
		g, ok := holderGoal[timing]
		if !ok {
			return "–", "–"
		}
		return "median ≤ " + test.Millis(g), verdict(test.Median(a.gaps) <= g)
	}
	bound, ok := test.FailoverBound(timing)
	if !ok {
		return "–", "–"
	}
	// No goal of its own: the leader's host died, so an election comes first.
	if test.CheckFailoverMedian(timing, a.gaps) == nil {
		return "none; DESIGN's crash-failover bound median ≤ " + test.Millis(bound), "within the bound"
	}
	return "none; DESIGN's crash-failover bound median ≤ " + test.Millis(bound), "above the bound"
}

// holdersTable is the section on holders that do not lead and on leaders: per
// raftvip system and kind of failover, the gaps against the goal, the other groups'
// failed requests and the time with two holders of any group; keepalived-aa's
// MASTER unplugged for comparison.
func (r results) holdersTable() string {
	var b strings.Builder
	b.WriteString("| system | the node unplugged | trials | median gap | p95 gap | max gap | goal | result | failed requests | other groups: failed requests | time with two holders, any group |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	rows := 0
	for _, s := range r.Config.systems {
		kinds := failoverKinds
		if !s.raftvip {
			if !s.aa {
				continue
			}
			kinds = []failoverKind{{"the MASTER of the first instance (unplug)", "unplug", false}}
		}
		for _, k := range kinds {
			a := r.aggregateKind(s.Name, k)
			if len(a.gaps) == 0 {
				continue
			}
			goal, result := "–", "–"
			if s.raftvip {
				goal, result = goalOf(k, s.timing, a)
			}
			others := "–"
			if a.others > 0 {
				others = fmt.Sprintf("%d of %d", a.otherFailures, a.otherRequests)
			}
			anyTwo := "0"
			if d := a.two + a.otherTwo; d > 0 {
				anyTwo = fmt.Sprintf("%.2f s", d.Seconds())
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %d of %d | %s | %s |\n", s.Name, k.name, len(a.gaps),
				test.Millis(test.Median(a.gaps)), test.Millis(test.Quantile(a.gaps, 0.95)), test.Millis(test.Quantile(a.gaps, 1)),
				goal, result, a.failures, a.requests, others, anyTwo)
			rows++
		}
	}
	if rows == 0 {
		return ""
	}
	return b.String()
}

// overlaps lists, for every raftvip system and scenario of the run, the time with
// two holders of any group; empty when there was none.
func (r results) overlaps() []string {
	var out []string
	for _, s := range r.Config.systems {
		if !s.raftvip {
			continue
		}
		for _, scen := range r.Config.scens {
			a := r.aggregate(s.Name, scen)
			if d := a.two + a.otherTwo; d > 0 {
				out = append(out, fmt.Sprintf("%s %s: %.2f s", s.Name, scen, d.Seconds()))
			}
		}
	}
	return out
}

// markdown renders docs/benchmarks.md.
func (r results) markdown() string {
	var b strings.Builder
	m := r.Machine
	c := r.Config
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# raftvip and keepalived side by side\n\n")
	w("Generated by `make bench` (`%s`) on %s; the run took %v.\n\n", r.command(), r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Duration.Round(time.Second))
	w("Machine: %s, %d CPUs, Linux %s, %s; raftvip `%s`; %s; %s. Another job may have shared the machine (the figures are from one run, not a quiet lab).\n\n",
		orUnknown(m.CPU), m.CPUs, m.Kernel, m.Go, orUnknown(m.Raftvip), orUnknown(m.Keepalived), orUnknown(m.HAProxy))

	w("## What runs\n\n")
	w("Every system is three load balancers in network namespaces on one bridge, each running the same HAProxy (it answers every HTTP request with its node's name), with the VIP %s, priorities 150, 120 and 100, and five gratuitous ARPs one second apart when a node takes the VIP. The active-active systems have three VIPs instead, %s, one per group (or vrrp_instance), with the priorities rotated so that each load balancer tops one: %s. The pair systems are the guides' topology: two load balancers at 150 and 120, for raftvip with a witness, lb3, a third voter without HAProxy or VIP that leads (docs/witness.md); there *partition* cuts the holder from the other load balancer and the witness, *unplug-leader* unplugs the witness, and nothing should move. A client namespace on the same bridge sends an HTTP request to each VIP every 10 ms (a new connection each, 3 s timeout); a sampler reads every node's addresses every 10 ms.\n\n", test.VIP4, aaVIPs(), aaRotation())
	w("- **raftvip-lan**, **raftvip-fast**: the raftvip agent with `cluster.timing: lan` or `fast`, `vip.lifetime: 2s`, `fencing: standard`, and the `haproxy` check on the node's stats socket every %v, fall %d, rise %d, weight 0 (a failing check is FAULT), `min_move_interval: %v`.\n", healthInterval, healthFall, healthRise, moveWindow)
	w("- **active-active**: raftvip as raftvip-lan, with three `groups:` instead of `vip:`, each with its own priority per node, `min_move_interval: %v` and no `track` (every group tracks every check, the haproxy check included).\n", moveWindow)
	w("- **keepalived-v2**: keepalived (%s) with VRRPv2, `advert_int 1`; **keepalived-v3**: VRRPv3, `advert_int 0.1`; **keepalived-aa**: as keepalived-v2 with three `vrrp_instance`s (`virtual_router_id` 51, 52, 53), one per VIP, each tracking the script. All multicast, `nopreempt` off (keepalived's default: it preempts), `garp_master_repeat 5`, `vrrp_garp_interval 1`, `garp_master_delay 0`, and a `vrrp_script` that runs `kill -0` on the PID in the node's HAProxy pidfile every %v, fall %d, rise %d, weight 0 (a failing script is FAULT). keepalived 2.2.7 takes no script interval under one second (`interval 0.2` is rejected: \"invalid number '0.2' … must be between 1 and 4294 - ignoring\"), so its HAProxy check is five times slower than raftvip's; that is the *haproxy* row's main difference.\n\n", orUnknown(m.Keepalived), c.kaCheck, healthFall, healthRise)

	w("## Scenarios\n\n")
	w("Each trial starts with every group's priority-150 node holding it alone for at least %v (for raftvip also with a Raft leader every agent agrees on, and, where a node holds nothing, that node leading: raftvip moves leadership there by itself), runs the probes and the sampler for 1 s, applies the fault to one node, waits until another node answers the client of the group that node held (at most %v), keeps watching for %v and at least until %v after the fault, then repairs the fault (port up, daemon or HAProxy restarted, rules removed; for a killed keepalived the VIP it left on eth0 is removed first, as a rebooted host has none) and waits until every group's priority-150 node holds it again, alone, and the client's requests through its VIP reach that node (within 5 s); a repair that does not get there is reported below the tables and the next trial gets a new lab. keepalived gets it back by preemption; raftvip would only after `min_move_interval`, so the bench moves it back with `raftvip transfer` (`--group` for active-active; not measured). All %d trials of a system and scenario share one lab, rebuilt after a failed trial.\n\n", steadyHold, c.serve, c.settle, c.observe, c.trials)
	w("The fault hits a holder that does not lead: raftvip-lan's and raftvip-fast's one holder (their leader holds nothing), active-active's first group (web, api, db) whose holder is not the leader, keepalived's MASTER (of the first instance, web, for keepalived-aa); *unplug-leader* hits the Raft leader instead. The figures are those of the group the node held; the other groups' clients and holders are measured too (*other groups*), and should see nothing.\n\n")
	for _, scen := range c.scens {
		w("- **%s**: %s.\n", scen, scenarioText[scen])
	}
	w("\n")

	w("## Measures\n\n")
	w("- **gap**: the longest interval without a successful response, over the successful completions from 500 ms before the fault to the end of the trial (bounded by the first request's start and the last one's end, so failures at either edge count). Median, p95 and max over the trials, by nearest rank.\n")
	w("- **failed requests**: requests that started in that window and failed (refused, reset, or no answer within 3 s), of all requests in it.\n")
	w("- **other groups**: with several groups, the same for the clients of the groups the faulty node did not hold (one probe per VIP): their failed requests, the most nodes that had one of their VIPs at once, and the time with two.\n")
	w("- **max holders**: the most nodes the sampler saw with the VIP on eth0 at once during the trial, the faulty node included.\n")
	w("- **time with two holders**: from the sampler, the total length of the stretches with two or more holders, summed over the trials. The observation ends %v after the first answer from another node, and not before %v after the fault: long enough for a raftvip VIP left behind by a killed agent to reach the end of its lifetime (2 s). An overlap that lasts until the repair is cut there, and the table says in how many trials two nodes still had the VIP at the end.\n", c.settle, c.observe)
	w("- **CPU**, **RSS**: the daemons of the three nodes together, from `/proc/PID/stat` every %v (utime + stime, with the children they reaped — keepalived's script runs — and the resident set): the raftvip agents and their VIP guards, or keepalived's parent and VRRP child. *Idle* is a quiet %v on every lab once the priority-150 node holds the VIP steadily, before its first trial, with no probe and no fault (mean RSS); *in failover* is from the fault to the end of every trial (peak RSS). CPU is in percent of one core. HAProxy is not counted. RSS counts shared pages once per process, so keepalived's parent and VRRP child, which share most of theirs, are overstated, and so is each raftvip VIP guard: it runs the agent's binary and most of its resident set is that file's pages, which the agent has mapped too (its own, anonymous memory is under 2 MiB).\n\n", test.UsagePeriod, c.quiet)

	w("## Results\n\n")
	b.WriteString(r.summaryTable())
	if ht := r.holdersTable(); ht != "" {
		w("\n## Holders that do not lead, and leaders\n\n")
		w("With quorum leases a holder need not lead (DESIGN §9.3), so a holder that does not lead is replaced without an election: the goal is a median gap of at most %s with `lan` and %s with `fast`. A leader that holds nothing should fail with no failed request at all; a leader that holds a group (active-active, where every node holds one) costs an election first, and has no goal of its own here beyond DESIGN's crash-failover bound that the bench checks. *Other groups* are the requests of the groups the node did not hold; *time with two holders* covers every group, summed over the trials.\n\n",
			test.Millis(holderGoal["lan"]), test.Millis(holderGoal["fast"]))
		b.WriteString(ht)
		if ov := r.overlaps(); len(ov) > 0 {
			w("\nTwo holders of one group at once in raftvip's trials: MISS (%s).\n", strings.Join(ov, "; "))
		} else {
			w("\nTwo holders of one group at once, in every raftvip trial of this run, every group: none (PASS).\n")
		}
	}
	if rt := r.ratioTable(); rt != "" {
		w("\n## raftvip ÷ keepalived\n\n")
		w("Each cell divides raftvip's figure by keepalived's, both from this run and the same scenario: raftvip-lan by keepalived-v2 (the defaults of each: Raft `lan` timing and 1 s adverts), raftvip-fast by keepalived-v3 with 0.1 s adverts (the fast settings of each) and active-active by keepalived-aa (three groups, three instances). Below 1 raftvip is lower (all these figures are better lower); *= (both 0)* means neither had any; *∞* means keepalived had none and raftvip some.\n\n")
		b.WriteString(rt)
		w("\nA gap ratio above 1 is not always the worse outcome: after *kill* and *partition* keepalived's old master keeps the VIP and its HAProxy keeps answering, so the client sees almost no gap while two nodes answer ARP for the VIP (the *time with two holders* column); raftvip's minority node gives the VIP up before the majority claims it, and that hand-over is the gap.\n")
	}
	w("\n## Resources\n\n")
	w("Over every trial of every scenario of a system; the ratio rows divide raftvip's figure by keepalived's as above.\n\n")
	b.WriteString(r.resourceTable())

	w("\n## Who answered the client\n\n")
	w("One chart per scenario, with the trial of median gap of each system (for the active-active systems, of the group the faulty node held): a lane per node with a bar where that node answered a request (placed at its completion and drawn 20 ms wide, so the gap is the blank stretch and the 10 ms probe's jitter does not show), a thin strip under it while that node's kernel had the VIP (red while two nodes had it), and a lane of failed requests placed when they were sent. The dashed line is the fault.\n\n")
	for _, scen := range c.scens {
		w("### %s\n\n![%s](bench/%s.png)\n\n", scen, scen, scen)
	}

	w("## Every trial\n\n")
	for _, scen := range c.scens {
		for _, s := range c.systems {
			if !r.has(s.Name, scen) {
				continue
			}
			w("<details><summary>%s, %s</summary>\n\n", scen, s.Name)
			b.WriteString("| trial | lab | holder → first to answer | gap | served | failed requests | max holders | two holders | other groups | CPU before the fault | CPU in failover |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
			for _, tr := range r.Trials {
				if tr.System != s.Name || tr.Scenario != scen {
					continue
				}
				if tr.Err != "" {
					w("| %d | %s | error: %s | | | | | | | | |\n", tr.N, tr.Lab, mdEscape(tr.Err))
					continue
				}
				f := tr.F
				others := "–"
				if len(f.Others) > 0 {
					fl, rq := f.OthersFailed()
					others = fmt.Sprintf("%d/%d failed, max %d holders", fl, rq, f.OthersMaxHolders())
					if d := f.OthersMultiDuration(); d > 0 {
						others += ", two for " + test.Millis(d)
					}
				}
				w("| %d | %s | %s | %s | %s | %d/%d | %d | %s | %s | %s | %s |\n", tr.N, tr.Lab, tr.move(),
					test.Millis(f.Gap), test.Millis(f.ServedAfter), f.Failures, f.Requests, f.MaxHolders,
					test.Millis(f.MultiDuration), others, pct(tr.Before), pct(tr.During))
			}
			b.WriteString("\n</details>\n\n")
		}
	}
	var problems []string
	for _, tr := range r.Trials {
		if tr.Err == "" && tr.Repair == "" {
			continue
		}
		p := fmt.Sprintf("- %s, %s, trial %d (lab %s", tr.Scenario, tr.System, tr.N, tr.Lab)
		if tr.Kept != "" {
			p += ", logs kept in `" + tr.Kept + "`"
		}
		line, _, _ := strings.Cut(tr.Err+tr.Repair, "\n")
		p += "): " + mdEscape(line)
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		w("## Failed trials and repairs\n\n%s\n\n", strings.Join(problems, "\n"))
		if slices.ContainsFunc(r.Trials, func(tr *trial) bool { return strings.Contains(tr.Repair, "neighbour entry") }) {
			w("A repair that ends with the client's neighbour entry naming a node that gave the VIP up is a client black-holed after the fault was undone: the node that holds the VIP sent no gratuitous ARP, so the client keeps sending to the MAC it learnt last until its ARP entry expires (15–45 s by default). After a partition heals, keepalived's lower-priority master yields as soon as it hears the higher one's advert; if the higher one never hears a lower-priority advert first, it does not announce the VIP again, and the client that followed the lower one's gratuitous ARPs during the split stays with it. The trial's own figures stand; the next trial gets a new lab.\n\n")
		}
	}

	w("## Rerun\n\n")
	w("```\nsudo make bench                 # every system and scenario, TRIALS=10 by default\nsudo TRIALS=3 make bench         # fewer trials\nsudo RAFTVIP_BIN=bin/raftvip go run ./test/bench -trials 2 -system raftvip-lan,keepalived-v2 -scenario kill,partition -out /tmp/bench.md -json /tmp/bench.json -charts /tmp/bench\n```\n\n")
	w("It needs root, HAProxy, keepalived and nftables (`make deps`), prints the expected duration first and a line per trial, and rewrites this page, [benchmarks.json](benchmarks.json) (every trial, with the probe's outcomes as runs and the holder timeline) and the charts in [bench/](bench/). `-v` prints the lab's progress; a failed trial keeps its lab's work directory under /tmp/raftvip-lab/.\n")
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// The JSON of the raw trials.
type jsonRun struct {
	Generated  time.Time    `json:"generated"`
	DurationS  float64      `json:"duration_s"`
	Command    string       `json:"command"`
	Machine    test.Machine `json:"machine"`
	Trials     int          `json:"trials_per_group"`
	SettleMS   int64        `json:"settle_ms"`
	ObserveMS  int64        `json:"observe_ms"`
	KACheckMS  int64        `json:"keepalived_check_interval_ms"`
	Systems    []string     `json:"systems"`
	Scenarios  []string     `json:"scenarios"`
	Idle       []jsonIdle   `json:"idle"`
	TrialsData []jsonTrial  `json:"trials"`
}

// jsonIdle is the quiet window of the labs of one system and scenario.
type jsonIdle struct {
	System   string    `json:"system"`
	Scenario string    `json:"scenario"`
	Usage    jsonUsage `json:"usage"`
}

type jsonUsage struct {
	SpanMS     int64   `json:"span_ms"`
	CPUMS      int64   `json:"cpu_ms"`
	CPUPercent float64 `json:"cpu_percent"`
	RSSMeanKiB int64   `json:"rss_mean_kib"`
	RSSMaxKiB  int64   `json:"rss_max_kib"`
}

type jsonChange struct {
	AtMS    int64    `json:"at_ms"`
	Holders []string `json:"holders"`
}

type jsonTrial struct {
	System           string       `json:"system"`
	Scenario         string       `json:"scenario"`
	Trial            int          `json:"trial"`
	Lab              string       `json:"lab"`
	Group            string       `json:"group,omitempty"`
	Leader           string       `json:"leader,omitempty"`
	Stay             bool         `json:"stay,omitempty"`
	Holder           string       `json:"holder,omitempty"`
	FirstToAnswer    string       `json:"first_to_answer,omitempty"`
	GapMS            int64        `json:"gap_ms"`
	ServedMS         int64        `json:"served_ms"`
	ClaimedMS        int64        `json:"claimed_ms"`
	Requests         int          `json:"requests"`
	Failures         int          `json:"failures"`
	Errors           any          `json:"errors,omitempty"`
	MaxHolders       int          `json:"max_holders"`
	TwoHolderMS      int64        `json:"two_holder_ms"`
	TwoHolderSamples int          `json:"two_holder_samples"`
	TwoHoldersAtEnd  bool         `json:"two_holders_at_end"`
	Stale            int          `json:"stale_announcements"`
	Before           jsonUsage    `json:"before_fault"`
	Failover         jsonUsage    `json:"failover"`
	ProbeRuns        string       `json:"probe_runs,omitempty"`
	HolderTimeline   []jsonChange `json:"holder_timeline,omitempty"`
	OtherGroups      []jsonOther  `json:"other_groups,omitempty"`
	TookMS           int64        `json:"took_ms"`
	Error            string       `json:"error,omitempty"`
	RepairError      string       `json:"repair_error,omitempty"`
	Kept             string       `json:"kept,omitempty"`
}

// jsonOther is what the probe and the sampler saw of a group the fault did not hit.
type jsonOther struct {
	VIP         string `json:"vip"`
	GapMS       int64  `json:"gap_ms"`
	Requests    int    `json:"requests"`
	Failures    int    `json:"failures"`
	Errors      any    `json:"errors,omitempty"`
	MaxHolders  int    `json:"max_holders"`
	TwoHolderMS int64  `json:"two_holder_ms"`
	ProbeRuns   string `json:"probe_runs,omitempty"`
}

func usageJSON(w test.UsageWindow) jsonUsage {
	return jsonUsage{SpanMS: w.Span.Milliseconds(), CPUMS: w.CPU.Milliseconds(), CPUPercent: float64(int(w.CPUPercent()*100)) / 100,
		RSSMeanKiB: w.MeanRSS >> 10, RSSMaxKiB: w.MaxRSS >> 10}
}

func (r results) json() jsonRun {
	j := jsonRun{Generated: r.Started.UTC(), DurationS: r.Duration.Seconds(), Command: r.command(), Machine: r.Machine,
		Trials: r.Config.trials, SettleMS: r.Config.settle.Milliseconds(), ObserveMS: r.Config.observe.Milliseconds(), KACheckMS: r.Config.kaCheck.Milliseconds(),
		Scenarios: r.Config.scens}
	for _, s := range r.Config.systems {
		j.Systems = append(j.Systems, s.Name)
		for _, scen := range r.Config.scens {
			if w, ok := r.Idle[groupKey(s.Name, scen)]; ok {
				j.Idle = append(j.Idle, jsonIdle{System: s.Name, Scenario: scen, Usage: usageJSON(w)})
			}
		}
	}
	for _, tr := range r.Trials {
		t := jsonTrial{System: tr.System, Scenario: tr.Scenario, Trial: tr.N, Lab: tr.Lab, TookMS: tr.Took.Milliseconds(),
			Group: tr.Group, Leader: tr.Leader, Stay: tr.Stay, Error: tr.Err, RepairError: tr.Repair, Kept: tr.Kept}
		if tr.Err == "" {
			f := tr.F
			t.Holder, t.FirstToAnswer = f.Old, f.New
			t.GapMS, t.ServedMS, t.ClaimedMS = f.Gap.Milliseconds(), f.ServedAfter.Milliseconds(), f.ClaimedAfter.Milliseconds()
			t.Requests, t.Failures, t.MaxHolders = f.Requests, f.Failures, f.MaxHolders
			if len(f.Probe.Errors) > 0 {
				t.Errors = f.Probe.Errors
			}
			t.TwoHolderMS, t.TwoHolderSamples, t.TwoHoldersAtEnd = f.MultiDuration.Milliseconds(), f.MultiSamples, tr.TwoAtEnd
			t.Stale = len(f.Stale)
			t.Before, t.Failover = usageJSON(tr.Before), usageJSON(tr.During)
			t.ProbeRuns = f.Probe.Runs
			for _, c := range tr.holders {
				t.HolderTimeline = append(t.HolderTimeline, jsonChange{AtMS: c.At.Milliseconds(), Holders: append([]string{}, c.Holders...)})
			}
			for _, o := range f.Others {
				jo := jsonOther{VIP: o.VIP.String(), GapMS: o.Probe.Gap.Milliseconds(), Requests: o.Probe.Requests, Failures: o.Probe.Failures,
					MaxHolders: o.Holders.MaxHolders, TwoHolderMS: o.Holders.MultiDuration.Milliseconds(), ProbeRuns: o.Probe.Runs}
				if len(o.Probe.Errors) > 0 {
					jo.Errors = o.Probe.Errors
				}
				t.OtherGroups = append(t.OtherGroups, jo)
			}
		}
		j.TrialsData = append(j.TrialsData, t)
	}
	return j
}

// writeCharts writes dir/<scenario>.png for every scenario and returns the paths.
func (r results) writeCharts(dir string) ([]string, error) {
	var paths []string
	for _, scen := range r.Config.scens {
		var panels []panel
		end := 2 * time.Second
		for _, s := range r.Config.systems {
			tr := r.medianTrial(s.Name, scen)
			if tr == nil {
				continue
			}
			nodes := []string{"lb1", "lb2", "lb3"}
			if !s.raftvip {
				nodes = []string{"ka1", "ka2", "ka3"}
			}
			f := tr.F
			title := fmt.Sprintf("%s, trial %d/%d (median): %s, gap %d ms, %d failed, max %d holders", s.Name, tr.N, r.Config.trials,
				chartMove(tr), f.Gap.Milliseconds(), f.Failures, f.MaxHolders)
			if f.MultiDuration > 0 {
				title += fmt.Sprintf(", two for %d ms", f.MultiDuration.Milliseconds())
			}
			if fl, _ := f.OthersFailed(); fl > 0 {
				title += fmt.Sprintf("; others %d failed", fl)
			}
			panels = append(panels, panel{Title: title, Nodes: nodes, Answers: tr.answers, Holders: tr.holders, End: tr.end()})
			end = max(end, tr.end())
		}
		if len(panels) == 0 {
			continue
		}
		end = min(end, 15*time.Second).Truncate(500*time.Millisecond) + 500*time.Millisecond
		img := renderChart(scen+": "+chartCaption[scen], panels, -500*time.Millisecond, end)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return paths, err
		}
		path := filepath.Join(dir, scen+".png")
		if err := writePNG(path, img); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// chartCaption is the short form of scenarioText, in the charts' small alphabet.
var chartCaption = map[string]string{
	"unplug":        "the holder's bridge port down",
	"unplug-leader": "the raft leader's bridge port down",
	"kill":          "the holder's daemon sigkilled",
	"partition":     "the holder cut off from the other two nodes (links up)",
	"haproxy":       "haproxy sigkilled on the holder",
	"planned":       "raftvip transfer / keepalived sigterm",
}

// chartMove is trial.move for a chart's title: "web: leader lb1 to lb2".
func chartMove(tr *trial) string {
	return strings.ReplaceAll(tr.move(), " → ", " to ")
}

// medianTrial is the successful trial of median gap of a system and scenario (the
// trial test.Median picks the gap of), nil if none.
func (r results) medianTrial(sys, scen string) *trial {
	var ok []*trial
	for _, tr := range r.Trials {
		if tr.System == sys && tr.Scenario == scen && tr.Err == "" {
			ok = append(ok, tr)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	slices.SortStableFunc(ok, func(a, b *trial) int { return int(a.F.Gap - b.F.Gap) })
	return ok[test.QuantileIndex(len(ok), 0.5)]
}
