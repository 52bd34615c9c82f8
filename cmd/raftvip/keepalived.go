package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/keepalived"
	"github.com/urfave/cli/v2"
)

// keepalivedCommand is `raftvip keepalived convert`: a keepalived.conf in, a raftvip
// config out that joins the same VRRP groups, for moving a fleet over node by node.
func keepalivedCommand() *cli.Command {
	return &cli.Command{
		Name:  "keepalived",
		Usage: "work with keepalived configurations",
		Subcommands: []*cli.Command{{
			Name:      "convert",
			Usage:     "convert the vrrp_instances of a keepalived.conf into a raftvip config that joins the same VRRP groups",
			ArgsUsage: "FILE  (flags may come before or after FILE)",
			Description: "Prints a raftvip config to stdout. Every vrrp_instance is converted: a file with one\n" +
				"becomes the one-group form (vip, priority, preempt and vrrp at the top level), a file\n" +
				"with several becomes groups:, one group per instance in file order, named after it.\n" +
				"Each group gets the instance's interface and virtual_ipaddress, priority, preempt,\n" +
				"preempt_delay, garp settings, its track_script checks (track), and a vrrp section with\n" +
				"its virtual_router_id, version, advert_int, authentication and unicast peers, so the\n" +
				"node joins each keepalived group as one router; the instances of a vrrp_sync_group\n" +
				"become groups placed together (together). vrrp_scripts become checks and notify* the\n" +
				"notify hooks (the script is told the group's name as INSTANCE). --instance NAME\n" +
				"converts that instance alone, in the one-group form. Every keepalived option that is\n" +
				"not converted is listed with why, at the top of the config and on stderr.\n" +
				"keepalived.conf does not say the node's name, address or cluster: give them with\n" +
				"--name, --bind (default: the first instance's unicast_src_ip) and --peer for every\n" +
				"other raftvip node, or fill in the placeholders. Check the result with raftvip config\n" +
				"check.",
			Flags:  keepalivedConvertFlags(),
			Action: runKeepalivedConvert,
		}},
	}
}

func keepalivedConvertFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "instance", Usage: "convert only this vrrp_instance, as the config's one group (vip:); default: every instance, several as groups:"},
		&cli.StringFlag{Name: "name", Usage: "this node's name (node.name), e.g. lb1"},
		&cli.StringFlag{Name: "bind", Usage: "this node's address for Raft and gossip (node.bind); default: the first instance's unicast_src_ip"},
		&cli.StringSliceFlag{Name: "peer", Usage: "another node of the raftvip cluster, name=ip or name=ip:port (repeat for each)"},
		&cli.StringFlag{Name: "witness", Usage: "the pair's witness, name=ip or name=ip:port: a third voter with no VIP and no HAProxy; its config is printed on stderr"},
		&cli.BoolFlag{Name: "insecure", Usage: "write cluster.insecure: true (no TLS, no gossip encryption) instead of leaving tls and encrypt to fill in"},
		&cli.StringFlag{Name: "haproxy-socket", Usage: "turn checks that look for a haproxy process (killall -0 haproxy, pidof haproxy, ...) into haproxy checks on this stats socket"},
	}
}

// keepalivedConvertArgs are the options of convert, from flags before FILE and, so
// that `convert FILE --name lb1` works too, after it.
type keepalivedConvertArgs struct {
	file string
	opts keepalived.Options
}

// peerList collects repeated --peer flags after FILE.
type peerList []string

func (p *peerList) String() string     { return strings.Join(*p, ",") }
func (p *peerList) Set(s string) error { *p = append(*p, s); return nil }

func parseKeepalivedConvertArgs(c *cli.Context) (keepalivedConvertArgs, error) {
	a := keepalivedConvertArgs{opts: keepalived.Options{
		Instance:      c.String("instance"),
		Name:          c.String("name"),
		Bind:          c.String("bind"),
		Peers:         c.StringSlice("peer"),
		Witness:       c.String("witness"),
		Insecure:      c.Bool("insecure"),
		HAProxySocket: c.String("haproxy-socket"),
	}}
	args := c.Args().Slice()
	if len(args) == 0 {
		return a, errors.New("keepalived convert takes one argument: the keepalived.conf to convert, e.g. raftvip keepalived convert /etc/keepalived/keepalived.conf --name lb1")
	}
	a.file = args[0]
	if len(args) == 1 {
		return a, nil
	}
	fs := flag.NewFlagSet("keepalived convert", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var peers peerList
	fs.StringVar(&a.opts.Instance, "instance", a.opts.Instance, "")
	fs.StringVar(&a.opts.Name, "name", a.opts.Name, "")
	fs.StringVar(&a.opts.Bind, "bind", a.opts.Bind, "")
	fs.Var(&peers, "peer", "")
	fs.StringVar(&a.opts.Witness, "witness", a.opts.Witness, "")
	fs.BoolVar(&a.opts.Insecure, "insecure", a.opts.Insecure, "")
	fs.StringVar(&a.opts.HAProxySocket, "haproxy-socket", a.opts.HAProxySocket, "")
	if err := fs.Parse(args[1:]); err != nil {
		return a, fmt.Errorf("keepalived convert: %w (flags: --instance, --name, --bind, --peer, --witness, --insecure, --haproxy-socket)", err)
	}
	if fs.NArg() > 0 {
		return a, fmt.Errorf("keepalived convert takes one file, got %s too; convert one file at a time", strings.Join(fs.Args(), " "))
	}
	a.opts.Peers = append(a.opts.Peers, peers...)
	return a, nil
}

func runKeepalivedConvert(c *cli.Context) error {
	a, err := parseKeepalivedConvertArgs(c)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(a.file)
	if err != nil {
		return fmt.Errorf("keepalived convert: %w", err)
	}
	res, err := keepalived.Convert(string(src), a.file, a.opts)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) && len(ce.Errors) > 1 {
			return fmt.Errorf("keepalived convert: %d problems:\n%w", len(ce.Errors), err)
		}
		return fmt.Errorf("keepalived convert: %w", err)
	}
	fmt.Fprint(c.App.Writer, res.YAML)
	printKeepalivedReport(c.App.ErrWriter, a.file, res)
	return nil
}

// printKeepalivedReport writes what was not converted, and what is left to fill in,
// to w (stderr), so that it is seen even when stdout goes to a file.
func printKeepalivedReport(w io.Writer, file string, res *keepalived.Conversion) {
	if res.Groups == nil {
		fmt.Fprintf(w, "converted vrrp_instance %s of %s\n", res.Instance, file)
	} else {
		fmt.Fprintf(w, "converted %d vrrp_instances of %s into groups:\n", len(res.Groups), file)
		for i, g := range res.Groups {
			fmt.Fprintf(w, "  vrrp_instance %s: group %s\n", res.Instances[i], g)
		}
	}
	item := func(it keepalived.Item) {
		if it.Line > 0 {
			fmt.Fprintf(w, "  %s:%d: ", file, it.Line)
		} else {
			fmt.Fprint(w, "  ")
		}
		if it.Option != "" {
			fmt.Fprintf(w, "%s: ", it.Option)
		}
		fmt.Fprintln(w, it.Why)
	}
	if len(res.Unsupported) > 0 {
		fmt.Fprintf(w, "not converted (%d):\n", len(res.Unsupported))
		for _, it := range res.Unsupported {
			item(it)
		}
	}
	if len(res.Notes) > 0 {
		fmt.Fprintf(w, "converted with a difference (%d):\n", len(res.Notes))
		for _, it := range res.Notes {
			item(it)
		}
	}
	if len(res.Placeholders) > 0 {
		fmt.Fprintf(w, "fill in before use (%d):\n", len(res.Placeholders))
		for _, p := range res.Placeholders {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if res.Witness != "" {
		fmt.Fprintln(w, "the witness (--witness): convert the other load balancer's file with the same --witness, then set up the witness with this config:")
		for _, line := range strings.Split(strings.TrimRight(res.Witness, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}
