// Command demo shows raftvip at work in the e2e lab: three agents with HAProxy in
// network namespaces, a client curling the VIP, and a failover when the holder's cable
// is pulled. Everything is torn down at the end, also on Ctrl-C.
//
//	sudo go run ./test/demo
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/raftvip/raftvip/test"
)

func main() { os.Exit(run()) }

func run() int {
	timing := flag.String("timing", "lan", "timing profile: lan, fast or wan")
	verbose := flag.Bool("v", false, "print the lab's progress lines")
	flag.Parse()
	ctx, cleanup, ok := test.Command("demo")
	if !ok {
		return 2
	}
	defer cleanup()

	logf := func(string, ...any) {}
	if *verbose {
		logf = func(format string, args ...any) { fmt.Printf("  · "+format+"\n", args...) }
	}
	if err := test.Sweep(logf); err != nil {
		fmt.Fprintln(os.Stderr, "demo: sweep:", err)
	}
	step("building raftvip")
	if _, err := test.Binary(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	step("building the lab: bridge, lb1..lb3 with HAProxy and the raftvip agent, a client")
	// Every node checks its HAProxy on the stats socket every 200 ms (fall 2, weight 0).
	opts := test.HealthOptions(200*time.Millisecond, 2, 5*time.Second, nil)
	opts.Timing, opts.StartAgents, opts.Logf = *timing, true, logf
	l, err := test.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer func() {
		step("tearing the lab down")
		if err := l.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
		}
	}()
	if err := demo(ctx, l); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Println("\ninterrupted")
			return 130
		}
		l.Keep()
		fmt.Fprintf(os.Stderr, "demo: %v\nagent logs kept in %s\n", err, l.Dir)
		return 1
	}
	return 0
}

func demo(ctx context.Context, l *test.Lab) error {
	step("waiting for the cluster to elect a holder")
	h, err := l.WaitForHolderContext(ctx, 30*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("holder: %s\n", h.Name)
	if lb1 := l.Node("lb1"); h != lb1 {
		step("lb1 has the highest priority (150): the leader hands it the VIP by a planned move")
		if h, err = l.WaitForSteadyHolder(ctx, lb1, time.Second, 30*time.Second); err != nil {
			return err
		}
		fmt.Printf("holder: %s\n", h.Name)
	}

	step(fmt.Sprintf("raftvip status --socket %s   (on %s)", h.Socket, h.Name))
	out, err := l.StatusText(h)
	if err != nil {
		return err
	}
	fmt.Print(indent(out))

	vip := l.VIP4.Addr()
	step(fmt.Sprintf("curl http://%s/   (from the client, %s)", vip, test.ClientAddr4.Addr()))
	who, err := l.Get(vip)
	if err != nil {
		return err
	}
	fmt.Printf("  HTTP 200, answered by %s\n", who)

	step(fmt.Sprintf("pulling %s's cable while the client requests the VIP every 10 ms", h.Name))
	f, err := l.MeasureUnplug(ctx, h, 10*time.Second, 2*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("  failover gap seen by the client: %v\n", f.Gap.Round(time.Millisecond))
	fmt.Printf("  first answer from a survivor:    %v after the unplug, from %s\n", f.ServedAfter.Round(time.Millisecond), f.New)
	if f.Failures > 0 {
		fmt.Printf("  requests:                        %d, %d failed (in flight to %s when it vanished)\n", f.Requests, f.Failures, h.Name)
	} else {
		fmt.Printf("  requests:                        %d, none failed\n", f.Requests)
	}
	if f.MaxHolders <= 1 {
		fmt.Printf("  two nodes holding the VIP:       never (sampled every 10 ms)\n")
	} else {
		fmt.Printf("  two nodes holding the VIP:       %d samples, %v!\n", f.MultiSamples, f.MultiDuration)
	}

	nh, err := l.WaitForHolderContext(ctx, 10*time.Second)
	if err != nil {
		return err
	}
	step(fmt.Sprintf("killing HAProxy on %s, the new holder (its haproxy check fails twice, 200 ms apart)", nh.Name))
	f, err = l.MeasureFault(ctx, nh, func() error { return l.KillHAProxy(nh) }, 10*time.Second, 2*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("  first answer from a healthy node: %v after the kill, from %s\n", f.ServedAfter.Round(time.Millisecond), f.New)
	fmt.Printf("  requests:                         %d, %d refused by the dead HAProxy before the check caught it\n", f.Requests, f.Failures)
	if f.MaxHolders <= 1 {
		fmt.Printf("  two nodes holding the VIP:        never\n")
	} else {
		fmt.Printf("  two nodes holding the VIP:        %d samples, %v!\n", f.MultiSamples, f.MultiDuration)
	}

	last, err := l.WaitForHolderContext(ctx, 10*time.Second)
	if err != nil {
		return err
	}
	step(fmt.Sprintf("raftvip status --socket %s   (holder %s; %s is in FAULT)", last.Socket, last.Name, nh.Name))
	out, err = l.StatusText(last)
	if err != nil {
		return err
	}
	fmt.Print(indent(out))
	return ctx.Err()
}

func step(s string) { fmt.Printf("\n== %s\n", s) }

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "  " + strings.Join(lines, "\n  ") + "\n"
}
