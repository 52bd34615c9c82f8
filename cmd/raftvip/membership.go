package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/urfave/cli/v2"
)

// The membership verbs: members, join, leave, force-leave and keygen.

func membersCommand(socketFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "members",
		Usage:     "list the nodes of the cluster: Raft role, gossip state, priority, eligibility",
		ArgsUsage: " ",
		Description: "Lists every node that is in the Raft configuration or known to gossip, as this node\n" +
			"sees it. ROLE is leader, voter (counts toward the quorum), non-voter (joined and\n" +
			"catching up; the leader promotes it to voter in a few seconds) or - (seen by gossip,\n" +
			"not yet in Raft). GOSSIP is alive, suspect, dead or left; a dead node is never removed\n" +
			"by itself (see force-leave). * marks the node that holds the VIP.",
		Flags:  []cli.Flag{socketFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: runMembers,
	}
}

func joinCommand(socketFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "join",
		Usage:     "add this node to a cluster through the gossip address of a node already in it",
		ArgsUsage: fmt.Sprintf("ADDR...  (ip or ip:port of another node's gossip; port default node.gossip_port, %d)", config.DefaultGossipPort),
		Description: "Asks the local agent to contact the gossip port of one or more nodes that are\n" +
			"already in the cluster. Once this node is in gossip, the Raft leader adds it: first\n" +
			"as a non-voter, then as a voter once it has caught up (about 2 s). Only a voter may\n" +
			"hold the VIP; with preempt on, a new node of higher priority takes the VIP once it\n" +
			"is steady. A node with cluster.join in its config does this by itself at start.",
		Flags:  []cli.Flag{socketFlag},
		Action: runJoin,
	}
}

func leaveCommand(socketFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "leave",
		Usage:     "take this node out of the cluster for good: hand the VIP over, leave Raft and gossip, stop the agent",
		ArgsUsage: " ",
		Description: "Run it on the node that leaves. If the node holds the VIP, it hands it to the best\n" +
			"eligible node by a planned move, as on SIGTERM. Then it is removed from the Raft\n" +
			"configuration, so it no longer counts toward the quorum, and it leaves gossip, so\n" +
			"the other nodes see it as left, not dead; the agent exits 0 and leave waits for\n" +
			"that (--wait). `systemctl stop raftvip` leaves the node a voter that is merely down;\n" +
			"leave shrinks the cluster, like deleting the node from every keepalived\n" +
			"unicast_peer list. Without --force it refuses to leave fewer than 3 voters behind:\n" +
			"such a cluster loses the VIP when one more node fails.",
		Flags: []cli.Flag{
			socketFlag,
			&cli.BoolFlag{Name: "force", Usage: "leave even if fewer than 3 voters remain"},
			&cli.DurationFlag{Name: "wait", Usage: "wait this long for the agent to exit (0: do not wait)", Value: 30 * time.Second},
		},
		Action: runLeave,
	}
}

func forceLeaveCommand(socketFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "force-leave",
		Usage:     "remove a node that is gone for good and cannot run leave itself",
		ArgsUsage: "NODE",
		Description: "Removes NODE from the Raft configuration; run it on any node still in the cluster.\n" +
			"Use it for a node that will not come back (dead hardware, reinstalled under a new\n" +
			"name): raftvip never removes a dead node by itself, and a dead voter still counts\n" +
			"toward the quorum (a majority of all voters, dead ones included). It refuses a node\n" +
			"that gossip still reaches (run leave on that node instead) and a removal after which\n" +
			"the alive voters would not be a majority.",
		Flags:  []cli.Flag{socketFlag},
		Action: runForceLeave,
	}
}

func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:      "keygen",
		Usage:     "print a new random key for cluster.encrypt (gossip encryption)",
		ArgsUsage: " ",
		Description: "Prints 32 random bytes in standard base64: an AES-256 key for gossip encryption.\n" +
			"Put the same key in cluster.encrypt on every node. It secures gossip only; the Raft\n" +
			"port is secured by cluster.tls (raftvip tls). It also makes a good admin token:\n" +
			"(umask 077; raftvip keygen > /etc/raftvip/admin.token). Needs no agent.",
		Action: runKeygen,
	}
}

// noArgs rejects positional arguments for a verb that takes none.
func noArgs(c *cli.Context, verb string) error {
	if c.NArg() > 0 {
		return fmt.Errorf("%s takes no arguments (got %q)", verb, c.Args().First())
	}
	return nil
}

// flagsFirst rejects a flag written after a positional argument: urfave/cli stops
// parsing flags at the first positional argument, so it would be taken as one.
func flagsFirst(c *cli.Context, verb, what, example string) error {
	for _, a := range c.Args().Slice() {
		if strings.HasPrefix(a, "-") && a != "-" {
			return fmt.Errorf("%s: %q after the %s: put flags before the %s (%s)", verb, a, what, what, example)
		}
	}
	return nil
}

func runMembers(c *cli.Context) error {
	if err := noArgs(c, "members"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	defer cancel()
	resp, err := clientFor(c).Members(ctx)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(resp)
	}
	printMembers(c.App.Writer, resp)
	return nil
}

// printMembers renders the human form of members, laid out like status's members table.
func printMembers(w io.Writer, resp *api.MembersResponse) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tROLE\tGOSSIP\tPRIORITY\tELIGIBLE")
	for _, m := range resp.Members {
		name := m.Name
		if m.Holder {
			name += " *"
		}
		addr := m.Address
		if addr == "" && m.GossipAddress != "" {
			addr = m.GossipAddress + " (gossip)"
		}
		if addr == "" {
			addr = "-"
		}
		role := m.Role
		if role == "" || role == "none" {
			role = "-"
		}
		if m.NodeRole == config.RoleWitness {
			role += ", witness"
		}
		gossip := m.Gossip
		if gossip == "" {
			gossip = "unknown"
		}
		prio := "-"
		if m.Priority > 0 {
			prio = fmt.Sprintf("%d", m.Priority)
		}
		eligible := "yes"
		if !m.Eligible {
			eligible = "no"
			if m.Ineligible != "" {
				eligible += ": " + m.Ineligible
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, addr, role, gossip, prio, eligible)
	}
	tw.Flush()
	if resp.Holder == "" {
		fmt.Fprintln(w, "(no node holds the VIP)")
	} else {
		fmt.Fprintln(w, "(* holds the VIP)")
	}
	if resp.Leader == "" {
		fmt.Fprintf(w, "no raft leader: %s cannot reach a quorum of voters (or an election is running)\n", orNone(resp.Node))
	}
}

func runJoin(c *cli.Context) error {
	example := fmt.Sprintf("raftvip join --socket %s 198.18.0.12:%d", defaultSocket, config.DefaultGossipPort)
	if err := flagsFirst(c, "join", "addresses", example); err != nil {
		return err
	}
	if c.NArg() == 0 {
		return fmt.Errorf("join needs the gossip address of at least one node in the cluster, e.g. raftvip join 198.18.0.12:%d", config.DefaultGossipPort)
	}
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Second)
	defer cancel()
	resp, err := clientFor(c).Join(ctx, c.Args().Slice())
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "joined: contacted %d, %d members in gossip\n", resp.Contacted, resp.Members)
	return nil
}

func runLeave(c *cli.Context) error {
	if err := noArgs(c, "leave"); err != nil {
		return err
	}
	client := clientFor(c)
	// The agent gives a leave 30 s: a hand-off, then the removal.
	ctx, cancel := context.WithTimeout(c.Context, 35*time.Second)
	defer cancel()
	resp, err := client.Leave(ctx, c.Bool("force"))
	if err != nil {
		return err
	}
	if err := waitAgentGone(c.Context, client, c.Duration("wait")); err != nil {
		return fmt.Errorf("%s left the cluster, but %w", resp.Node, err)
	}
	switch {
	case resp.HandedTo != "":
		fmt.Fprintf(c.App.Writer, "%s left the cluster (VIP handed to %s)\n", resp.Node, resp.HandedTo)
	case resp.Voters > 0:
		fmt.Fprintf(c.App.Writer, "%s left the cluster (%s)\n", resp.Node, votersRemain(resp.Voters))
	default: // it was only in gossip
		fmt.Fprintf(c.App.Writer, "%s left the cluster\n", resp.Node)
	}
	return nil
}

// waitAgentGone polls the admin socket until nothing answers on it (the agent exited)
// or wait passes. wait <= 0 does not wait.
func waitAgentGone(ctx context.Context, client *api.Client, wait time.Duration) error {
	if wait <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := client.Status(pctx)
		pcancel()
		if errors.Is(err, api.ErrAgentNotRunning) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("its agent still answers on %s after %s; see the agent's log", client.Socket, wait)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func runForceLeave(c *cli.Context) error {
	if err := flagsFirst(c, "force-leave", "node name", "raftvip force-leave --socket "+defaultSocket+" lb2"); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return fmt.Errorf("force-leave takes exactly one node name (got %d: %s)", c.NArg(), orNone(strings.Join(c.Args().Slice(), " ")))
	}
	ctx, cancel := context.WithTimeout(c.Context, 15*time.Second)
	defer cancel()
	resp, err := clientFor(c).ForceLeave(ctx, c.Args().First())
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s removed from the cluster (%s)\n", resp.Node, votersRemain(resp.Voters))
	return nil
}

// votersRemain says "1 voter remains" or "N voters remain".
func votersRemain(n int) string {
	if n == 1 {
		return "1 voter remains"
	}
	return fmt.Sprintf("%d voters remain", n)
}

func runKeygen(c *cli.Context) error {
	if err := noArgs(c, "keygen"); err != nil {
		return err
	}
	key, err := config.GenerateKey()
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, key)
	return nil
}
