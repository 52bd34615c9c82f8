package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse parses a config file's contents; filename is used in error messages and
// recorded in Config.File. A problem in the file is returned as a *Error that
// lists every problem found.
func Parse(data []byte, filename string) (*Config, error) {
	return ParseWithHostname(data, filename, os.Hostname)
}

// ParseWithHostname is Parse with hostname in place of os.Hostname, which gives
// node.name its default (a converter that writes a config for another host passes one
// that fails).
func ParseWithHostname(data []byte, filename string, hostname func() (string, error)) (*Config, error) {
	return parseWith(data, filename, hostname, false)
}

// parseWith is ParseWithHostname; defaultInsecure makes cluster.insecure default to
// true, for the tests of other sections, which write no tls or encrypt.
func parseWith(data []byte, filename string, hostname func() (string, error), defaultInsecure bool) (*Config, error) {
	d := &decoder{file: filename, lines: map[string]int{}, timingSet: map[string]bool{}, suggested: map[string]bool{},
		itemPaths: map[string][]string{}, defaultInsecure: defaultInsecure, now: time.Now}
	cfg := &Config{
		Node:  NodeConfig{DataDir: DefaultDataDir, RaftPort: DefaultRaftPort, GossipPort: DefaultGossipPort, Role: DefaultRole},
		Admin: AdminConfig{Socket: DefaultAdminSocket},
		VIP: VIPConfig{
			Lifetime: DefaultLifetime,
			Fencing:  DefaultFencing,
			GARP:     GARPConfig{Repeat: DefaultGARPRepeat, Interval: DefaultGARPInterval},
			Drain:    DefaultDrain,
		},
		Priority:        DefaultPriority,
		Preempt:         DefaultPreempt,
		MinMoveInterval: DefaultMinMoveInterval,
		Notify:          NotifyConfig{Instance: DefaultNotifyInstance, Timeout: DefaultNotifyTimeout},
		Log:             LogConfig{Level: DefaultLogLevel, Format: DefaultLogFormat},
		File:            filename,
	}
	cfg.Cluster.Timing, _ = Profile(DefaultProfile)
	if root := d.document(data); root != nil {
		d.root(root, cfg)
		d.crossCheck(cfg, hostname)
	}
	if len(d.errs) > 0 {
		return nil, d.err()
	}
	return cfg, nil
}

// decoder walks the YAML node tree and collects every problem.
type decoder struct {
	file  string
	errs  []FieldError
	lines map[string]int // field path -> line where it is set

	timingSet map[string]bool     // knobs set under cluster.timing
	suggested map[string]bool     // keys a misspelt key was taken for
	peerPaths []string            // path of each of cfg.Cluster.Peers
	itemPaths map[string][]string // list path (vip.addresses, groups[1].track) -> path of each good item
	sites     []groupSite         // where each of cfg.Groups is in the file

	groupsForm bool // the file has groups: (else it is in the vip: form)

	defaultInsecure bool             // cluster.insecure defaults to true (tests)
	now             func() time.Time // checks certificate validity
}

// failedAt reports whether an error was recorded for path itself.
func (d *decoder) failedAt(path string) bool {
	for _, e := range d.errs {
		if e.Field == path {
			return true
		}
	}
	return false
}

// failed reports whether an error was recorded for path or anything under it.
func (d *decoder) failed(path string) bool {
	for _, e := range d.errs {
		if e.Field == path || strings.HasPrefix(e.Field, path+".") || strings.HasPrefix(e.Field, path+"[") {
			return true
		}
	}
	return false
}

func (d *decoder) add(line int, field, format string, args ...any) {
	d.errs = append(d.errs, FieldError{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// at is the line of a field, or of the nearest enclosing section that is set.
func (d *decoder) at(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
}

func (d *decoder) err() error {
	sort.SliceStable(d.errs, func(i, j int) bool {
		li, lj := d.errs[i].Line, d.errs[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	return &Error{Errors: d.errs}
}

const emptyMsg = "config is empty; a config needs at least node.bind, vip.interface, vip.addresses and one of cluster.peers, cluster.bootstrap_expect or cluster.join"

// document parses data into a YAML node tree and returns the root mapping's node, or
// nil after recording why there is none.
func (d *decoder) document(data []byte) (root *yaml.Node) {
	defer func() {
		// The YAML library is not ours; a config file must never crash the agent.
		if r := recover(); r != nil {
			d.add(0, "", "cannot parse YAML: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(0, "", "%s", emptyMsg)
		} else {
			d.syntax(err, data)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		d.add(line, "", "a second YAML document starts here; raftvip reads one document per file: remove the '---' separator and merge the two, or delete the second")
	case !errors.Is(err, io.EOF):
		d.syntax(err, data)
	}
	n := &doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			d.add(0, "", "%s", emptyMsg)
			return nil
		}
		n = n.Content[0]
	}
	n = resolve(n)
	switch {
	case isNull(n):
		d.add(0, "", "%s", emptyMsg)
		return nil
	case n.Kind != yaml.MappingNode:
		d.add(n.Line, "", "the config must be a mapping of sections (node:, cluster:, vip: ...), found %s", kindOf(n))
		return nil
	}
	return n
}

func (d *decoder) syntax(err error, data []byte) {
	// The library says "yaml: line 3: did not find expected key".
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(num); err == nil && l > 0 {
				line, msg = l, text
			}
		}
	}
	hint := ""
	if line > 0 {
		hint = "; check the indentation and quoting on this line and the one before"
	}
	if bytes.Contains(data, []byte("\n\t")) || bytes.HasPrefix(data, []byte("\t")) {
		hint = "; YAML indents with spaces, and this file has tabs at the start of a line"
	}
	d.add(line, "", "invalid YAML: %s%s", msg, hint)
}

// drop forgets the errors recorded for path itself.
func (d *decoder) drop(path string) {
	d.errs = slices.DeleteFunc(d.errs, func(e FieldError) bool { return e.Field == path })
}
