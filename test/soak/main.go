// Command soak runs raftvip's nemesis soak in the e2e lab: three agents with HAProxy,
// a client probing the VIP and a sampler reading every node's addresses, while random
// faults (unplug, partition, SIGKILL, SIGSTOP, HAProxy killed, raftvip transfer) hit
// random nodes for the whole duration. It prints a summary, writes a markdown report
// and exits 1 on any violation of the promises it checks (two holders outside the
// freeze bound, a stuck state), 2 if the harness itself failed.
//
//	sudo go run ./test/soak -duration 10m -out docs/soak.md
//	sudo SEED=42 SOAK=60s go run ./test/soak     # the environment sets the defaults
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/test"
)

func main() { os.Exit(run()) }

func run() int {
	defDuration := 10 * time.Minute
	if v := os.Getenv("SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "soak: SOAK=%q: want a duration like 10m or 60s\n", v)
			return 2
		}
		defDuration = d
	}
	var defSeed uint64
	if v := os.Getenv("SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "soak: SEED=%q: want an unsigned integer\n", v)
			return 2
		}
		defSeed = s
	}
	duration := flag.Duration("duration", defDuration, "how long the nemesis injects faults (default: $SOAK or 10m)")
	seed := flag.Uint64("seed", defSeed, "seed of the nemesis; 0 picks one (default: $SEED)")
	out := flag.String("out", "", "markdown report to write (e.g. docs/soak.md); stdout only if empty")
	verbose := flag.Bool("v", false, "print every fault and the lab's progress lines")
	flag.Parse()
	ctx, cleanup, ok := test.Command("soak")
	if !ok {
		return 2
	}
	defer cleanup()

	quiet := func(string, ...any) {}
	say := func(format string, args ...any) { fmt.Printf("    "+format+"\n", args...) }
	labLog, faultLog := quiet, quiet
	if *verbose {
		labLog, faultLog = say, say
	}
	if err := test.Sweep(labLog); err != nil {
		fmt.Fprintln(os.Stderr, "soak: sweep:", err)
	}
	if _, err := test.Binary(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	for *seed == 0 {
		*seed = uint64(time.Now().UnixNano()) // the seed is printed, so it need not be strong
	}
	cmd := fmt.Sprintf("SEED=%d SOAK=%v make soak", *seed, *duration)
	fmt.Printf("soak: %v, seed %d (replay: %s)\n", *duration, *seed, cmd)

	opts := test.SoakLabOptions()
	opts.Logf = labLog
	l, err := test.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	r, err := l.Soak(ctx, test.SoakOptions{
		Duration: *duration,
		Seed:     *seed,
		Progress: func(line string) { fmt.Println(line) },
		Logf:     faultLog,
	})
	failed := err != nil || r == nil || !r.Pass()
	if failed {
		l.Keep()
	}
	if cerr := l.Close(); cerr != nil {
		fmt.Fprintln(os.Stderr, "soak: teardown:", cerr)
	}
	if r != nil {
		fmt.Print("\n" + r.Table())
		if r.Evidence != "" {
			fmt.Print("\n" + r.Evidence)
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "soak: interrupted; nothing written")
		return 130
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\nlab work directory kept: %s\n", err, l.Dir)
		return 2
	}
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 2
		}
		if err := os.WriteFile(*out, []byte(r.Markdown(cmd)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 2
		}
		fmt.Println("wrote", *out)
	}
	if failed {
		fmt.Fprintf(os.Stderr, "soak: %d violations (%s); lab work directory kept: %s\n",
			len(r.Violations()), strings.Join(firstLines(r.Violations(), 3), "; "), l.Dir)
		return 1
	}
	return 0
}

func firstLines(v []string, n int) []string {
	if len(v) > n {
		return append(v[:n:n], "…")
	}
	return v
}
