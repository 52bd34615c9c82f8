package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// genCommand writes files generated from the command tree: the man page and the shell
// completions that packaging/build-deb.sh puts into the Debian package. It is hidden:
// operators get its output from the package, or run it by hand for a plain binary.
func genCommand() *cli.Command {
	return &cli.Command{
		Name:   "gen",
		Hidden: true,
		Usage:  "print the man page or a shell completion script (packaging)",
		Subcommands: []*cli.Command{
			{
				Name:      "man",
				Usage:     "print the man page (roff) for man(1)",
				ArgsUsage: " ",
				Flags:     []cli.Flag{&cli.IntFlag{Name: "section", Usage: "man section", Value: manSection}},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return fmt.Errorf("gen man takes no arguments (got %q)", c.Args().First())
					}
					page, err := manPage(rootApp(c), c.Int("section"))
					if err != nil {
						return err
					}
					_, err = fmt.Fprint(c.App.Writer, page)
					return err
				},
			},
			{
				Name:      "completion",
				Usage:     "print the completion script for bash, zsh or fish",
				ArgsUsage: "bash|zsh|fish",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("gen completion takes exactly one argument: bash, zsh or fish")
					}
					script, err := completion(rootApp(c), c.Args().First())
					if err != nil {
						return err
					}
					_, err = fmt.Fprint(c.App.Writer, script)
					return err
				},
			},
		},
	}
}

// manSection is section 8, system administration commands: the package installs the
// binary in /usr/sbin and the agent runs as a system service.
const manSection = 8

// rootApp is the application at the root of c's lineage.
func rootApp(c *cli.Context) *cli.App {
	app := c.App
	for _, ctx := range c.Lineage() {
		if ctx.App != nil {
			app = ctx.App
		}
	}
	return app
}

// manDescription is the DESCRIPTION section of the man page, in markdown.
const manDescription = `raftvip keeps one or more virtual IP addresses on exactly one healthy node of a
cluster of HAProxy load balancers. The nodes elect the holder with Raft, so only a node
on the majority side of a partition ever holds the VIP. Health checks with keepalived's
vrrp_script semantics lower a node's priority, and the VIP moves to the best healthy
node by a planned hand-off. An optional VRRP speaker lets a cluster share a group with
keepalived routers.

**raftvip agent** runs the agent, normally as the systemd service raftvip.service; the
other commands talk to the local agent over its admin socket or work on files.`

// manFiles is appended to the generated page as roff: the sections urfave/cli's template
// does not have.
const manFiles = `.SH FILES
.TP
.I /etc/raftvip/raftvip.yaml
The agent's configuration. An example: raftvip config example, or
/usr/share/doc/raftvip/examples/raftvip.yaml from the Debian package. Check it with
raftvip config check.
.TP
.I /var/lib/raftvip
Raft log and snapshots (node.data_dir). Keep it across restarts and upgrades.
.TP
.I /run/raftvip/raftvip.sock
The admin socket (admin.socket), mode 0600: raftvip status, drain, transfer and the
membership commands use it.
.TP
.I /lib/systemd/system/raftvip.service
The systemd unit. systemctl reload raftvip checks the config and sends SIGHUP, which
reloads checks, priority, notify and log level; other changes need a restart.
.SH ENVIRONMENT
.TP
.B RAFTVIP_SOCKET
The admin socket the client commands use instead of /run/raftvip/raftvip.sock.
.TP
.B NOTIFY_SOCKET, WATCHDOG_USEC
Set by systemd (Type=notify, WatchdogSec=): the agent reports READY=1 once the node has
joined the cluster and feeds the watchdog while its reconcile loop runs.
.SH SEE ALSO
.BR systemctl (1),
.BR haproxy (1),
.BR keepalived (8)
`

// manPage renders app as a roff man page in the given section.
func manPage(app *cli.App, section int) (string, error) {
	if section < 1 || section > 9 {
		return "", fmt.Errorf("gen man: --section %d: want 1 to 9", section)
	}
	doc := *app
	doc.Description = manDescription
	page, err := doc.ToManWithSection(section)
	if err != nil {
		return "", fmt.Errorf("gen man: %w", err)
	}
	return manTidy(page, app.Name, app.Version, section) + manFiles, nil
}

// manTidy gives the page urfave/cli renders a full title line (version and manual
// name) and turns each command under COMMANDS into a subsection, with its parent's
// name before a subcommand's ("config check"), so man(1) does not list every command
// as a section of its own.
func manTidy(page, name, version string, section int) string {
	var out []string
	inCommands, parent := false, ""
	for _, line := range strings.Split(strings.TrimRight(page, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, ".TH "):
			line = fmt.Sprintf(".TH %s %d \"\" \"%s %s\" \"System Manager's Manual\"", strings.ToUpper(name), section, name, version)
		case line == ".SH COMMANDS":
			inCommands = true
		case inCommands && strings.HasPrefix(line, ".SH "):
			parent = strings.TrimPrefix(line, ".SH ")
			line = ".SS " + parent
		case inCommands && strings.HasPrefix(line, ".SS "):
			line = ".SS " + strconv.Quote(parent+" "+strings.TrimPrefix(line, ".SS "))
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n") + "\n"
}

// completion returns the completion script for shell.
func completion(app *cli.App, shell string) (string, error) {
	switch shell {
	case "bash":
		return bashCompletion, nil
	case "zsh":
		return zshCompletion, nil
	case "fish":
		s, err := app.ToFishCompletion()
		if err != nil {
			return "", fmt.Errorf("gen completion fish: %w", err)
		}
		return dropRepeatedLines(s), nil
	}
	return "", fmt.Errorf("gen completion: unknown shell %s; want bash, zsh or fish", strconv.Quote(shell))
}

// dropRepeatedLines removes lines equal to an earlier non-empty line: urfave/cli's fish
// template lists --help and --version twice.
func dropRepeatedLines(s string) string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimSpace(line) != "" && seen[line] {
			continue
		}
		seen[line] = true
		out = append(out, line)
	}
	return strings.Join(out, "")
}

// bashCompletion asks raftvip itself for the words: with EnableBashCompletion, urfave/cli
// prints the commands (or, after a word starting with -, the flags) that may follow the
// words given when the last argument is --generate-bash-completion. Installed as
// /usr/share/bash-completion/completions/raftvip, loaded on demand by bash-completion.
const bashCompletion = `# bash completion for raftvip                              -*- shell-script -*-
# Generated by raftvip gen completion bash.

_raftvip() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -n "=:" || return
    else
        COMPREPLY=()
        cur="${COMP_WORDS[COMP_CWORD]}"
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    local -a request=("${words[@]:0:cword}")
    case $cur in
    --) request+=(-) ;; # a bare -- would end the flags; - asks for all of them
    -*) request+=("$cur") ;;
    esac
    local opts
    opts=$("${request[@]}" --generate-bash-completion 2>/dev/null) || return
    # A command without subcommands offers only help: its argument is a file (or a
    # node name), which -o default below completes.
    [[ $opts == $'help\nh' ]] && opts=""
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}

complete -o bashdefault -o default -F _raftvip raftvip
`

// zshCompletion is the zsh form of bashCompletion, installed as
// /usr/share/zsh/vendor-completions/_raftvip.
const zshCompletion = `#compdef raftvip
# zsh completion for raftvip. Generated by raftvip gen completion zsh.

_raftvip() {
    local -a opts request
    local cur=${words[CURRENT]}
    request=(${words[1,CURRENT-1]})
    case $cur in
    --) request+=(-) ;; # a bare -- would end the flags; - asks for all of them
    -*) request+=($cur) ;;
    esac
    opts=("${(@f)$(${request[@]} --generate-bash-completion 2>/dev/null)}")
    # A command without subcommands offers only help: complete its FILE argument.
    if [[ ${(j: :)opts} == "help h" ]]; then
        opts=()
    fi
    if [[ -n ${opts[1]} ]]; then
        _describe 'raftvip' opts
    else
        _files
    fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _raftvip "$@"
else
    compdef _raftvip raftvip
fi
`
