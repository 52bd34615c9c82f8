package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

func transferCommand(socketFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "transfer",
		Usage:     "move a group of VIPs to another node now by a planned move, and keep it there",
		ArgsUsage: "[NODE]  (default: the best eligible node other than the holder)",
		Description: "Hands the groups (--group web or --group web,api; without it the first group and\n" +
			"every other group its holder holds: in a one-group cluster, the VIP) to NODE by a\n" +
			"planned move, as a drain or SIGTERM would, and waits until NODE\n" +
			"holds it (--wait). NODE must be eligible: healthy, not drained, its copy of the group\n" +
			"the same as the leader's.\n" +
			"The VIP then stays on NODE: preemption does not pull it back to a node of higher\n" +
			"priority while NODE stays eligible (status shows that move as pending). A health\n" +
			"failure on NODE, a drain or another transfer ends this. With no NODE the VIP goes to\n" +
			"the best eligible node other than the holder, by priority: after a transfer, that is\n" +
			"the node preemption would pick. With keepalived you would lower a priority or stop\n" +
			"keepalived to do this.",
		Flags: []cli.Flag{
			socketFlag,
			&cli.StringFlag{Name: "group", Usage: "the groups to move, separated by commas (default: the first group and every group its holder holds)"},
			&cli.DurationFlag{Name: "wait", Usage: "wait this long for NODE to hold the VIP (0: do not wait)", Value: 10 * time.Second},
		},
		Action: runTransfer,
	}
}

func runTransfer(c *cli.Context) error {
	if err := flagsFirst(c, "transfer", "node name", "raftvip transfer --wait 30s lb3"); err != nil {
		return err
	}
	if c.NArg() > 1 {
		return fmt.Errorf("transfer takes at most one node name (got %d: %s)", c.NArg(), strings.Join(c.Args().Slice(), " "))
	}
	wait := c.Duration("wait")
	ctx, cancel := context.WithTimeout(c.Context, 15*time.Second+max(wait, 0))
	defer cancel()
	client := clientFor(c)
	group := c.String("group")
	resp, err := client.Transfer(ctx, group, c.Args().First())
	if err != nil {
		return err
	}
	if resp.AlreadyHeld {
		fmt.Fprintf(c.App.Writer, "%s already holds the VIP\n", resp.To)
		return nil
	}
	from := ""
	if resp.From != "" {
		from = " from " + resp.From
	}
	if wait <= 0 {
		fmt.Fprintf(c.App.Writer, "VIP moving%s to %s\n", from, resp.To)
		return nil
	}
	deadline := time.Now().Add(wait)
	for {
		st, err := client.Status(ctx)
		if err != nil {
			return err
		}
		holder := st.Holder
		first, _, _ := strings.Cut(group, ",")
		for _, g := range st.Groups {
			if g.Name == first {
				holder = g.Holder
			}
		}
		if holder == resp.To {
			fmt.Fprintf(c.App.Writer, "VIP moved%s to %s\n", from, resp.To)
			return nil
		}
		if time.Now().After(deadline) {
			held := "no node holds it"
			if holder != "" {
				held = "held by " + holder
			}
			return fmt.Errorf("the move to %s committed, but the VIP is not on it after %s (%s); see raftvip status on %s", resp.To, wait, held, resp.To)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("transfer to %s: %w", resp.To, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
