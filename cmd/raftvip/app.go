package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/logging"
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
		// The shell completions (raftvip gen completion) ask the binary for the words:
		// `raftvip WORDS... --generate-bash-completion`.
		EnableBashCompletion: true,
		// The client verbs reach the agent over its socket (--socket), or over its TCP
		// admin listener with these.
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "reach the agent's TCP admin listener (admin.listen) at host:port instead of its socket", EnvVars: []string{"RAFTVIP_ADDR"}},
			&cli.StringFlag{Name: "token-file", Usage: "file with the token of the TCP admin listener (the agent's admin.token_file)", EnvVars: []string{"RAFTVIP_TOKEN_FILE"}},
		},
		Commands: []*cli.Command{
			{
				Name:  "agent",
				Usage: "run the raftvip agent",
				Flags: []cli.Flag{&cli.StringSliceFlag{Name: "config", Aliases: []string{"c"},
					Usage: "config file; a witness serves several clusters given several files (repeat --config) or a directory of them",
					Value: cli.NewStringSlice("/etc/raftvip/raftvip.yaml")}},
				Action: runAgent,
			},
			{
				Name:      "status",
				Usage:     "show this node's view of the cluster and the VIP",
				Flags:     []cli.Flag{socketFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action:    runStatus,
				ArgsUsage: " ",
			},
			membersCommand(socketFlag),
			{
				Name:      "drain",
				Usage:     "keep a node from holding the VIP (maintenance); a holder hands it over by a planned move",
				ArgsUsage: "[NODE]  (default: this node)",
				Description: "Sets a drain flag that is replicated through Raft and survives restarts. A drained\n" +
					"node never holds the VIP; if it holds it now, it hands it to the best eligible node\n" +
					"with no failed request. --off clears the flag; with preempt on, a node of higher\n" +
					"priority takes the VIP back once it is steady.",
				Flags: []cli.Flag{
					socketFlag,
					&cli.BoolFlag{Name: "off", Usage: "clear the drain flag instead"},
					&cli.DurationFlag{Name: "wait", Usage: "wait this long for the VIP to leave a drained node (0: do not wait)", Value: 10 * time.Second},
				},
				Action: runDrain,
			},
			transferCommand(socketFlag),
			joinCommand(socketFlag),
			leaveCommand(socketFlag),
			forceLeaveCommand(socketFlag),
			keygenCommand(),
			tlsCommand(),
			keepalivedCommand(),
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
						Action: func(c *cli.Context) error { fmt.Fprint(c.App.Writer, config.Example()); return nil },
					},
				},
			},
			releaseCommand(),
			guardCommand(),
			genCommand(),
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
	cfgs, err := loadConfigs(c.StringSlice("config"))
	if err != nil {
		return err
	}
	if len(cfgs) > 1 {
		return runWitnesses(c, cfgs)
	}
	cfg := cfgs[0]
	logger, level := logging.NewWithLevel(c.App.ErrWriter, cfg.Log)
	node, err := cluster.Start(cfg, logger)
	if err != nil {
		return err
	}
	sigs, hups, stopSignals := agentSignals()
	defer stopSignals()
wait:
	for {
		select {
		case <-hups:
			reload(node, cfg.File, level, logger)
		case s := <-sigs:
			logger.Info("signal received; stopping", "signal", s.String())
			break wait
		case <-node.Left():
			logger.Info("left the cluster (raftvip leave); stopping")
			break wait
		case <-node.Done():
			if err := node.Fatal(); err != nil {
				logger.Error("stopping", "err", err)
			} else {
				logger.Error("election loop stopped unexpectedly")
			}
			break wait
		}
	}
	crashed := false
	select {
	case <-node.Done():
		crashed = true
	default:
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
	err = node.Stop(ctx)
	if fatal := node.Fatal(); fatal != nil {
		return fatal // it says why and what to do
	}
	if crashed {
		// Exit non-zero, so that a supervisor (systemd's Restart=on-failure) restarts it.
		return errors.Join(errors.New("the election loop stopped unexpectedly"), err)
	}
	return err
}

// agentSignals delivers SIGTERM and SIGINT on sigs and SIGHUP on hups until stop.
func agentSignals() (sigs, hups chan os.Signal, stop func()) {
	sigs, hups = make(chan os.Signal, 2), make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	signal.Notify(hups, syscall.SIGHUP)
	return sigs, hups, func() {
		signal.Stop(sigs)
		signal.Stop(hups)
	}
}

// reload re-reads the config file on SIGHUP and applies what can change without a
// restart. A file with errors changes nothing.
func reload(node *cluster.Node, path string, level *slog.LevelVar, logger *slog.Logger) {
	next, err := config.Load(path)
	if err != nil {
		logger.Error("SIGHUP: the config file has errors; nothing reloaded", "file", path, "err", err)
		return
	}
	res, err := node.Reload(next, level)
	if err != nil {
		logger.Error("SIGHUP: reload failed; nothing changed", "file", path, "err", err)
		return
	}
	logger.Info("SIGHUP: config reloaded", "file", path, "result", res.String())
	if len(res.NeedRestart) > 0 {
		logger.Warn("SIGHUP: some changes apply only after a restart", "keys", strings.Join(res.NeedRestart, ","))
	}
}

func runStatus(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("status takes no arguments (got %q)", c.Args().First())
	}
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	defer cancel()
	st, err := clientFor(c).Status(ctx)
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
func printStatus(w io.Writer, st *api.Status, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	leader := st.Leader
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(tw, "node:\t%s (%s, term %d)\n", st.Node, st.State, st.Term)
	fmt.Fprintf(tw, "leader:\t%s\n", leader)
	if st.Membership != "" {
		fmt.Fprintf(tw, "cluster:\t%s\n", st.Membership)
	}
	witness := st.NodeRole == config.RoleWitness
	vipLine := fmt.Sprintf("%s on %s", strings.Join(st.VIP.Addresses, ", "), st.VIP.Interface)
	switch {
	case witness:
		fmt.Fprintf(tw, "role:\twitness: a voter that never holds a VIP; it votes, and vouches for the load balancers' leases\n")
	case st.Holding:
		since := ""
		if st.HeldSince != nil {
			since = fmt.Sprintf(" for %s", now.Sub(*st.HeldSince).Round(time.Second))
		}
		fmt.Fprintf(tw, "vip:\t%s: HELD here%s (lease %dms left)\n", vipLine, since, st.LeaseRemainingMS)
	default:
		holder := ""
		if st.Holder != "" {
			holder = "; held by " + st.Holder
		}
		fmt.Fprintf(tw, "vip:\t%s: not held here (%s)%s\n", vipLine, st.Reason, holder)
	}
	health := fmt.Sprintf("priority %d (base %d)", st.Priority, st.BasePriority)
	switch {
	case st.Eligible:
		health += ", eligible"
	default:
		health += ", NOT eligible: " + st.Ineligible
	}
	if !witness {
		fmt.Fprintf(tw, "health:\t%s\n", health)
	}
	for _, c := range st.Checks {
		line := fmt.Sprintf("  check %s\t%s\t%s", c.Name, c.Type, strings.ToUpper(c.State))
		if c.Since != nil {
			line += fmt.Sprintf(" for %s", now.Sub(*c.Since).Round(time.Second))
		}
		line += fmt.Sprintf(", weight %d", c.Weight)
		if c.Output != "" {
			line += ": " + c.Output
		}
		fmt.Fprintln(tw, line)
	}
	policy := "prefers " + orNone(st.Policy.Preferred)
	if st.Policy.NoneEligible != "" {
		policy = st.Policy.NoneEligible
	}
	if !st.Policy.Preempt {
		policy += "; preempt off"
	}
	if !witness {
		fmt.Fprintf(tw, "policy:\t%s\n", policy)
	}
	if st.Policy.Pending != "" {
		fmt.Fprintf(tw, "  pending:\t%s\n", st.Policy.Pending)
	}
	if v := st.VRRP; v.Enabled {
		line := fmt.Sprintf("v%d vrid %d, %s here", v.Version, v.VRID, v.Role)
		if v.Reason != "" {
			line += "; " + v.Reason
		}
		line += fmt.Sprintf("; sent %d, received %d, accepted %d", v.Sent, v.Received, v.Accepted)
		if len(v.Dropped) > 0 {
			reasons := make([]string, 0, len(v.Dropped))
			for r, c := range v.Dropped {
				reasons = append(reasons, fmt.Sprintf("%s %d", r, c))
			}
			slices.Sort(reasons)
			line += ", dropped: " + strings.Join(reasons, ", ")
		}
		fmt.Fprintf(tw, "vrrp:\t%s\n", line)
		for _, r := range v.Foreign {
			master := ""
			if r.Master {
				master = ", MASTER"
			}
			fmt.Fprintf(tw, "  router %s\tpriority %d, v%d every %dms, %d adverts, last %s ago%s\n",
				r.Address, r.Priority, r.Version, r.IntervalMS, r.Adverts, now.Sub(r.LastSeen).Round(100*time.Millisecond), master)
		}
	}
	if witness && len(st.Groups) > 0 {
		fmt.Fprintln(tw, "groups:")
		fmt.Fprintln(tw, "  GROUP\tHOLDER\tASSIGNMENT")
		for _, g := range st.Groups {
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", g.Name, orNone(g.Holder), g.Index)
		}
	}
	if len(st.Groups) > 1 && !witness {
		fmt.Fprintln(tw, "groups:")
		fmt.Fprintln(tw, "  GROUP\tADDRESSES\tHOLDER\tHERE\tPRIORITY\tLEASE\tREASON")
		for _, g := range st.Groups {
			here := "-"
			switch {
			case g.Holding:
				here = "HELD"
			case g.Assigned:
				here = "assigned"
			}
			lease := "-"
			if g.Holding {
				lease = fmt.Sprintf("%dms", g.LeaseRemainingMS)
			}
			reason := g.Reason
			if len(g.Differs) > 0 {
				reason = "copy differs from the leader's: " + strings.Join(g.Differs, ", ")
			}
			prio := strconv.Itoa(g.Priority)
			if g.Ineligible != "" {
				prio = "no: " + g.Ineligible
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Name, strings.Join(g.Addresses, ","), orNone(g.Holder), here, prio, lease, reason)
		}
		for _, g := range st.Groups {
			switch {
			case g.Policy.NoneEligible != "":
				fmt.Fprintf(tw, "  %s:\t%s\n", g.Name, g.Policy.NoneEligible)
			case g.Policy.Pending != "":
				fmt.Fprintf(tw, "  %s pending:\t%s\n", g.Name, g.Policy.Pending)
			}
		}
	}
	timing := fmt.Sprintf("%s (heartbeat %dms, lease %dms, delta %dms, wait %dms)",
		st.Timing.Profile, st.Timing.HeartbeatMS, st.Timing.VIPLeaseMS, st.Timing.DeltaMS, st.Timing.WaitMS)
	if !witness {
		timing += fmt.Sprintf(", lifetime %s, fencing %s", st.VIP.Lifetime, st.VIP.Fencing)
	}
	fmt.Fprintf(tw, "timing:\t%s\n", timing)
	for _, d := range st.Timing.Differs {
		fmt.Fprintf(tw, "  differs:\t%s\n", d)
	}
	fmt.Fprintf(tw, "security:\t%s\n", securityLine(st.Security))
	fmt.Fprintln(tw, "members:")
	fmt.Fprintln(tw, "  NAME\tADDRESS\tRAFT\tGOSSIP\tPRIORITY\tELIGIBLE\tCHECKS")
	for _, m := range st.Members {
		role := "non-voter"
		if m.Voter {
			role = "voter"
		}
		if m.Leader {
			role = "leader"
		}
		if m.NodeRole == config.RoleWitness {
			role += ", witness"
		}
		name := m.Name
		if m.Holder {
			name += " *"
		}
		prio := "-"
		if m.Priority > 0 {
			prio = fmt.Sprintf("%d", m.Priority)
			if m.BasePriority > 0 && m.BasePriority != m.Priority {
				prio += fmt.Sprintf(" (base %d)", m.BasePriority)
			}
		}
		eligible := "yes"
		if !m.Eligible {
			eligible = "no: " + m.Ineligible
		}
		var checks []string
		for _, c := range m.Checks {
			word := c.State
			if c.Output != "" && c.State != "passing" {
				word += " (" + c.Output + ")"
			}
			checks = append(checks, c.Name+" "+word)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, m.Address, role, m.Gossip, prio, eligible, orNone(strings.Join(checks, ", ")))
	}
	fmt.Fprintln(tw, "  (* holds the VIP)")
	if len(st.Events) > 0 {
		fmt.Fprintln(tw, "recent events:")
		events := st.Events
		if len(events) > 8 {
			events = events[len(events)-8:]
		}
		for _, e := range events {
			var line string
			switch e.Kind {
			case "drain":
				word := "drained"
				if e.Drained != nil && !*e.Drained {
					word = "undrained"
				}
				line = fmt.Sprintf("  %s\t%s %s", e.At.Local().Format("2006-01-02 15:04:05.000"), word, e.Node)
			default:
				line = fmt.Sprintf("  %s\t%s %s (term %d)", e.At.Local().Format("2006-01-02 15:04:05.000"), e.Kind, e.Node, e.Term)
				if e.Handoff != "" {
					line += " → " + e.Handoff
				}
			}
			if e.Reason != "" {
				line += ": " + e.Reason
			}
			fmt.Fprintln(tw, line)
		}
	}
	tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func runDrain(c *cli.Context) error {
	if err := flagsFirst(c, "drain", "node name", "raftvip drain --off lb1"); err != nil {
		return err
	}
	if c.NArg() > 1 {
		return fmt.Errorf("drain takes at most one node name (got %d: %s)", c.NArg(), strings.Join(c.Args().Slice(), " "))
	}
	ctx, cancel := context.WithTimeout(c.Context, 15*time.Second+c.Duration("wait"))
	defer cancel()
	client := clientFor(c)
	node := c.Args().First()
	if node == "" {
		st, err := client.Status(ctx)
		if err != nil {
			return err
		}
		node = st.Node
	}
	drained := !c.Bool("off")
	if _, err := client.Drain(ctx, node, drained); err != nil {
		return err
	}
	if !drained {
		fmt.Fprintf(c.App.Writer, "%s undrained: it may hold the VIP again\n", node)
		return nil
	}
	wait := c.Duration("wait")
	deadline := time.Now().Add(wait)
	for {
		st, err := client.Status(ctx)
		if err != nil {
			return err
		}
		switch {
		case st.Holder != node && st.Holder != "":
			fmt.Fprintf(c.App.Writer, "%s drained: the VIP is on %s\n", node, st.Holder)
			return nil
		case st.Holder == "" && st.Policy.NoneEligible != "":
			fmt.Fprintf(c.App.Writer, "%s drained: no node holds the VIP (%s)\n", node, st.Policy.NoneEligible)
			return nil
		case wait <= 0:
			fmt.Fprintf(c.App.Writer, "%s drained: a move away from it is under way if it held the VIP\n", node)
			return nil
		case time.Now().After(deadline):
			if st.Holder == node {
				return fmt.Errorf("%s is drained but still holds the VIP after %s; see raftvip status for why no other node takes it", node, wait)
			}
			fmt.Fprintf(c.App.Writer, "%s drained: the VIP is moving\n", node)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func runConfigCheck(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("config check takes exactly one argument: the config file")
	}
	cfg, err := config.Load(c.Args().First())
	if err != nil {
		return err
	}
	preempt := "preempt"
	if !cfg.Preempt {
		preempt = "no preempt"
	}
	vips := fmt.Sprintf("VIP %d addresses on %s", len(cfg.VIP.Addresses), cfg.VIP.Interface)
	if len(cfg.Groups) > 1 {
		var names []string
		for _, g := range cfg.Groups {
			names = append(names, fmt.Sprintf("%s: %d addresses on %s", g.Name, len(g.Addresses), g.Interface))
		}
		vips = fmt.Sprintf("%d groups (%s)", len(cfg.Groups), strings.Join(names, "; "))
	}
	t := cfg.Cluster.Timing
	fmt.Fprintf(c.App.Writer, "%s: ok (node %s, %s, %s, timing %s, lease %s, delta %s, priority %d, %d checks, %s, %s, %s)\n",
		cfg.File, cfg.Node.Name, formation(cfg), vips, t.Profile, t.VIPLease, t.ClaimMargin, cfg.Priority, len(cfg.Checks),
		preempt, vrrpSummary(cfg), securitySummary(cfg))
	return nil
}

// vrrpSummary says whether and how the node speaks VRRP.
func vrrpSummary(cfg *config.Config) string {
	v := cfg.VRRP
	if !v.Enabled {
		return "no VRRP"
	}
	mode := "multicast"
	if len(v.UnicastPeers) > 0 {
		mode = fmt.Sprintf("unicast to %d peers", len(v.UnicastPeers))
	}
	return fmt.Sprintf("VRRPv%d vrid %d every %s, %s", v.Version, v.VRID, v.Interval, mode)
}

// formation says how a config makes its node a member of a cluster.
func formation(cfg *config.Config) string {
	c := cfg.Cluster
	switch {
	case len(c.Peers) > 0:
		return fmt.Sprintf("%d static peers", len(c.Peers))
	case c.BootstrapExpect > 0:
		return fmt.Sprintf("forms a cluster of %d by gossip, joining %d addresses", c.BootstrapExpect, len(c.Join))
	case len(c.Join) > 0:
		return fmt.Sprintf("joins an existing cluster at %d addresses", len(c.Join))
	}
	return "waits for raftvip join"
}

// guardCommand is the agent's VIP guard, which the agent starts itself; not for
// operators.
func guardCommand() *cli.Command {
	return &cli.Command{
		Name:   cluster.GuardCommand,
		Hidden: true,
		Usage:  "remove the VIPs when the agent that started this process exits (internal)",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "address", Required: true, Usage: "IFACE=ADDR/LEN"},
			&cli.StringFlag{Name: "log-format", Value: "text"},
		},
		Action: func(c *cli.Context) error {
			vips, err := cluster.ParseGuardAddresses(c.StringSlice("address"))
			if err != nil {
				return err
			}
			return cluster.RunGuard(os.Stdin, c.App.ErrWriter, cluster.GuardArgs{VIPs: vips, LogFormat: c.String("log-format")})
		},
	}
}
