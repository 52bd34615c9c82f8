package election

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runSim runs one seed and returns the world.
func runSim(o simOptions) *simWorld {
	w := newSimWorld(o)
	w.run()
	return w
}

// Without faults every group is held by one node soon after the start, and stays so.
func TestSimulationQuiet(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		w := runSim(simOptions{Seed: seed, Duration: 3 * time.Second, Groups: 3, Drift: 0.05})
		if len(w.violations) > 0 {
			t.Fatalf("seed %d: %s\n%s", seed, w.violations[0], strings.Join(w.trace, "\n"))
		}
		for _, g := range w.groups {
			if len(w.holders[g]) != 1 {
				t.Errorf("seed %d: group %s held by %v at the end; want one holder\n%s", seed, g, w.holders[g], strings.Join(w.trace[max(0, len(w.trace)-60):], "\n"))
			}
		}
	}
}

// simSeeds is how many seeds a bulk run tries: RAFTVIP_SIM_SEEDS, else 5,000 (100
// under the race detector, which `make unit` uses; `make sim` runs the 5,000).
func simSeeds(t *testing.T) int {
	if v := os.Getenv("RAFTVIP_SIM_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("RAFTVIP_SIM_SEEDS=%q: want a positive number", v)
		}
		return n
	}
	if raceEnabled {
		return 100
	}
	return 5000
}

// faulty are the options of a bulk run: faults, drift, mixed leases.
func faulty(seed uint64, mut mutations) simOptions {
	return simOptions{Seed: seed, Duration: 4 * time.Second, Nodes: 3 + int(seed%3), Groups: 2 + int(seed%2),
		Drift: 0.05, MixedLeases: true, Nemesis: true, Mut: mut}
}

// sweep runs seeds 1..n with mut on two workers and returns the failing seeds, in
// order, with the first failure's report.
// With limit 0 it stops handing out seeds at the first failure.
func sweep(n int, mut mutations, limit int) (failed []uint64, first string, stats simStats) {
	type result struct {
		seed   uint64
		report string
		stats  simStats
	}
	seeds := make(chan uint64)
	results := make(chan result)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range seeds {
				w := runSim(faulty(s, mut))
				r := result{seed: s, stats: w.stats}
				if len(w.violations) > 0 {
					r.report = w.violations[0] + "\n" + strings.Join(w.trace[max(0, len(w.trace)-80):], "\n")
				}
				results <- r
			}
		}()
	}
	var stop atomic.Bool
	go func() {
		defer close(seeds)
		for s := uint64(1); s <= uint64(n) && !stop.Load(); s++ {
			seeds <- s
		}
	}()
	go func() { wg.Wait(); close(results) }()
	reports := map[uint64]string{}
	for r := range results {
		stats.add(r.stats)
		if r.report != "" {
			failed = append(failed, r.seed)
			reports[r.seed] = r.report
			if limit == 0 {
				stop.Store(true)
			}
		}
	}
	slices.Sort(failed)
	if len(failed) > 0 {
		first = reports[failed[0]]
	}
	return failed, first, stats
}

// No two holders of a group at any virtual instant, whatever the seed.
func TestSimulation(t *testing.T) {
	n := simSeeds(t)
	failed, first, st := sweep(n, mutations{}, n)
	if len(failed) > 0 {
		t.Fatalf("%d of %d seeds found two holders; replay with RAFTVIP_SIM_SEED=%d go test -run TestSimulationSeed ./election/\nfirst: %s",
			len(failed), n, failed[0], first)
	}
	t.Logf("%d seeds, no two holders: %d holds, %d assignments, %d releases, %d crashes, %d elections, %d configuration changes",
		n, st.holds, st.assigns, st.releases, st.crashes, st.elections, st.configChanges)
	// The runs must have done something: every kind of event, many times per seed.
	if st.holds < 3*n || st.assigns < 3*n || st.releases < n/2 || st.crashes < n || st.elections < 2*n || st.configChanges < n {
		t.Errorf("the runs did too little to prove anything: %+v over %d seeds", st, n)
	}
}

// Each rule of the protocol is needed: with any one of them broken, the simulation
// finds two holders of a group, in a fixed scenario or in the bulk seeds.
// RAFTVIP_SIM_COUNT=1 runs every seed of each mutation and reports how many fail.
func TestSimulationMutations(t *testing.T) {
	if raceEnabled {
		t.Skip("the mutations need thousands of seeds; `make unit` runs them without the race detector")
	}
	n := simSeeds(t)
	count := os.Getenv("RAFTVIP_SIM_COUNT") == "1"
	scenarios := []func(mutations) *simWorld{scenarioTwoConfigsBehind, scenarioUnheldRelease, scenarioLeaseChain,
		scenarioRestartAfterRelease, scenarioNonVoterCounts, scenarioSlowClock}
	for _, mut := range []mutations{
		{NoWait: true}, {AckCommittedOnly: true}, {CountNonVoters: true}, {IgnoreConfig: true},
		{HonourUnheld: true}, {OldIncarnation: true}, {ZeroDelta: true}, {LastLeaseOnlyWait: true},
	} {
		t.Run(mut.String(), func(t *testing.T) {
			for i, sc := range scenarios {
				w := sc(mut)
				w.run()
				if len(w.violations) > 0 {
					t.Logf("fixed scenario %d finds two holders: %s", i+1, w.violations[0])
				}
			}
			limit := 0 // stop at the first failing seed
			if count {
				limit = n
			}
			failed, first, _ := sweep(n, mut, limit)
			switch {
			case len(failed) > 0 && count:
				t.Logf("%d of %d seeds find two holders; the first, seed %d: %s", len(failed), n, failed[0], firstLine(first))
			case len(failed) > 0:
				t.Logf("seed %d finds two holders: %s", failed[0], firstLine(first))
			}
			if len(failed) == 0 && !scenarioFails(scenarios, mut) {
				t.Errorf("%s: neither a fixed scenario nor %d seeds found two holders", mut, n)
			}
		})
	}
}

func scenarioFails(scenarios []func(mutations) *simWorld, mut mutations) bool {
	for _, sc := range scenarios {
		w := sc(mut)
		w.run()
		if len(w.violations) > 0 {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestSimulationSeed replays one seed with its trace: RAFTVIP_SIM_SEED=n, and
// RAFTVIP_SIM_MUT=<mutation> to replay a mutation's failure.
func TestSimulationSeed(t *testing.T) {
	v := os.Getenv("RAFTVIP_SIM_SEED")
	if v == "" {
		t.Skip("set RAFTVIP_SIM_SEED to replay a seed")
	}
	seed, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("RAFTVIP_SIM_SEED=%q: %v", v, err)
	}
	var mut mutations
	for _, m := range []mutations{{NoWait: true}, {AckCommittedOnly: true}, {CountNonVoters: true}, {IgnoreConfig: true},
		{HonourUnheld: true}, {OldIncarnation: true}, {ZeroDelta: true}, {LastLeaseOnlyWait: true}} {
		if m.String() == os.Getenv("RAFTVIP_SIM_MUT") {
			mut = m
		}
	}
	w := runSim(faulty(seed, mut))
	t.Logf("seed %d, mutation %s:\n%s", seed, mut, strings.Join(w.trace, "\n"))
	if len(w.violations) > 0 {
		t.Errorf("%s", w.violations[0])
	}
}
