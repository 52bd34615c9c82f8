package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/raftvip/raftvip/cluster"
)

const defaultSocket = "/run/raftvip/raftvip.sock"

// newApp builds the command-line application. stdout and stderr are parameters so tests
// can run every verb without a process.
func newApp(stdout, stderr io.Writer) *cli.App {
	socketFlag := &cli.StringFlag{
		Name:    "socket",
		Usage:   "admin socket of the local agent",
		Value:   defaultSocket,
		EnvVars: []string{"RAFTVIP_SOCKET"},
	}
	return &cli.App{
		Name:      "raftvip",
		Usage:     "keep a virtual IP on exactly one healthy HAProxy node, decided by Raft",
		Version:   cluster.Version,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, by main, as a single line.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			{
				Name:   "agent",
				Usage:  "run the raftvip agent",
				Flags:  []cli.Flag{&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "config file", Value: "/etc/raftvip/raftvip.yaml"}},
				Action: runAgent,
			},
			{
				Name:      "status",
				Usage:     "show this node's view of the cluster and the VIP",
				Flags:     []cli.Flag{socketFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action:    runStatus,
				ArgsUsage: " ",
			},
			{
				Name:  "config",
				Usage: "work with configuration files",
				Subcommands: []*cli.Command{
					{
						Name:      "check",
						Usage:     "validate a config file without starting anything",
						ArgsUsage: "FILE",
						Action:    runConfigCheck,
					},
					{
						Name:   "example",
						Usage:  "print a commented example config for a three-node cluster",
						Action: func(c *cli.Context) error { fmt.Fprint(c.App.Writer, cluster.ExampleConfig()); return nil },
					},
				},
			},
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "raftvip %s\n", cluster.Version)
					return nil
				},
			},
		},
	}
}

func runAgent(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("agent takes no arguments (got %q); use --config FILE", c.Args().First())
	}
	cfg, err := cluster.Load(c.String("config"))
	if err != nil {
		return err
	}
	logger := cluster.NewLogger(c.App.ErrWriter, cfg.Log)
	node, err := cluster.Start(cfg, logger)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	select {
	case s := <-sigs:
		logger.Info("signal received; stopping", "signal", s.String())
	case <-node.Done():
		logger.Error("election loop stopped unexpectedly")
	}
	// A hand-off takes a few election timeouts at most; a second signal stops at once.
	ctx, cancel := context.WithTimeout(context.Background(), 10*cfg.Cluster.Timing.ElectionTimeout+2*time.Second)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			logger.Warn("second signal: skipping the hand-off")
			cancel()
		case <-ctx.Done():
		}
	}()
	return node.Stop(ctx)
}

func runStatus(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("status takes no arguments (got %q)", c.Args().First())
	}
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	defer cancel()
	st, err := cluster.NewClient(c.String("socket")).Status(ctx)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(c.App.Writer, st, time.Now())
	return nil
}

// printStatus renders the human form of status.
func printStatus(w io.Writer, st *cluster.Status, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	leader := st.Leader
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(tw, "node:\t%s (%s, term %d)\n", st.Node, st.State, st.Term)
	fmt.Fprintf(tw, "leader:\t%s\n", leader)
	vipLine := fmt.Sprintf("%s on %s", strings.Join(st.VIP.Addresses, ", "), st.VIP.Interface)
	if st.Holding {
		since := ""
		if st.HeldSince != nil {
			since = fmt.Sprintf(" for %s", now.Sub(*st.HeldSince).Round(time.Second))
		}
		fmt.Fprintf(tw, "vip:\t%s: HELD here%s (lease %dms left)\n", vipLine, since, st.LeaseRemainingMS)
	} else {
		fmt.Fprintf(tw, "vip:\t%s: not held here (%s)\n", vipLine, st.Reason)
	}
	fmt.Fprintf(tw, "timing:\t%s (heartbeat %dms, lease %dms, claim delay %dms), lifetime %s, fencing %s\n",
		st.Timing.Profile, st.Timing.HeartbeatMS, st.Timing.VIPLeaseMS, st.Timing.ClaimDelayMS, st.VIP.Lifetime, st.VIP.Fencing)
	fmt.Fprintln(tw, "members:")
	for _, m := range st.Members {
		role := "non-voter"
		if m.Voter {
			role = "voter"
		}
		if m.Leader {
			role += ", leader"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", m.Name, m.Address, role)
	}
	if len(st.Events) > 0 {
		fmt.Fprintln(tw, "recent moves:")
		events := st.Events
		if len(events) > 5 {
			events = events[len(events)-5:]
		}
		for _, e := range events {
			line := fmt.Sprintf("  %s\t%s %s (term %d)", e.At.Local().Format("2006-01-02 15:04:05.000"), e.Kind, e.Node, e.Term)
			if e.Handoff != "" {
				line += " → " + e.Handoff
			}
			if e.Reason != "" {
				line += ": " + e.Reason
			}
			fmt.Fprintln(tw, line)
		}
	}
	tw.Flush()
}

func runConfigCheck(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("config check takes exactly one argument: the config file")
	}
	cfg, err := cluster.Load(c.Args().First())
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s: ok (node %s, %d peers, VIP %d addresses on %s, timing %s, claim delay %s)\n",
		cfg.File, cfg.Node.Name, len(cfg.Cluster.Peers), len(cfg.VIP.Addresses), cfg.VIP.Interface,
		cfg.Cluster.Timing.Profile, cfg.Cluster.Timing.ClaimDelay())
	return nil
}
