package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/logging"
)

// releaseCommand removes this node's VIPs from the kernel: systemd's ExecStopPost, or an
// operator cleaning up after a crash.
func releaseCommand() *cli.Command {
	return &cli.Command{
		Name:      "release-vip",
		Usage:     "remove the configured VIPs from this node's interface (systemd ExecStopPost; cleanup after a crash)",
		ArgsUsage: " ",
		Description: "Removes every configured VIP found on vip.interface, and the drain rules (table inet\n" +
			"raftvip) an agent that died while draining left. It refuses while the agent answers on\n" +
			"its admin socket, because a running holder would put the VIP back at its next refresh\n" +
			"and a running agent is the one to ask: use raftvip transfer or raftvip drain instead.\n" +
			"--force skips that check.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "config file", Value: "/etc/raftvip/raftvip.yaml"},
			&cli.BoolFlag{Name: "force", Usage: "remove the VIPs even if the agent is running"},
		},
		Action: runRelease,
	}
}

func runRelease(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("release-vip takes no arguments (got %q); use --config FILE", c.Args().First())
	}
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return err
	}
	if !c.Bool("force") {
		ctx, cancel := context.WithTimeout(c.Context, time.Second)
		_, err := api.NewClient(cfg.Admin.Socket).Status(ctx)
		cancel()
		if err == nil {
			return fmt.Errorf("the agent is running (it answers on %s); stop it first, move the VIP with raftvip transfer or raftvip drain, or use --force", cfg.Admin.Socket)
		}
	}
	logger := logging.New(c.App.ErrWriter, cfg.Log)
	removed, err := cluster.ReleaseVIPs(cfg, logger)
	if err != nil {
		return err
	}
	if len(removed) == 0 {
		fmt.Fprintf(c.App.Writer, "no VIP on %s\n", cfg.VIP.Interface)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "removed %v from %s\n", removed, cfg.VIP.Interface)
	return nil
}
