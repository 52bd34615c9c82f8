package config

import (
	"fmt"
	"sort"
	"strings"
)

// unsupportedKeys are the keys of DESIGN §6 that this version does not implement
// yet, by path, with what to do instead ("not supported by this version of raftvip;
// ..."). There are none now.
func unsupportedKeys() map[string]string {
	return map[string]string{}
}

// knownKeys is every key this version knows, by section, to tell an operator
// where a key in the wrong section belongs. "checks[]" is an item of checks, with the
// keys of every check type.
func knownKeys() map[string][]string {
	return map[string][]string{
		"":               {"node", "cluster", "admin", "vip", "priority", "preempt", "preempt_delay", "min_move_interval", "checks", "notify", "vrrp", "log", "metrics"},
		"node":           {"name", "data_dir", "bind", "raft_port", "gossip_port"},
		"cluster":        {"peers", "bootstrap_expect", "join", "timing", "encrypt", "tls", "insecure"},
		"cluster.timing": {"profile", "heartbeat_timeout", "election_timeout", "leader_lease", "commit_timeout", "vip_lease", "rpc_timeout", "claim_margin"},
		"cluster.tls":    {"ca_file", "cert_file", "key_file"},
		"admin":          {"socket", "listen", "token_file"},
		"metrics":        {"listen"},
		"vip":            {"interface", "addresses", "lifetime", "fencing", "garp", "drain"},
		"vip.garp":       {"repeat", "interval", "refresh"},
		"checks[]":       checkKeys(),
		"notify":         {"master", "backup", "fault", "stop", "script", "instance", "timeout"},
		"vrrp":           {"enabled", "version", "vrid", "advert_interval", "auth_pass", "unicast_peers", "unicast_src", "interface"},
		"log":            {"level", "format"},
	}
}

func (d *decoder) unknownKey(path, key string, fields []keyField) string {
	msg := "unknown key"
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	if s, ok := closest(key, known); ok {
		d.suggested[joinPath(path, s)] = true
		return fmt.Sprintf("%s; did you mean %q?", msg, s)
	}
	schema := knownKeys()
	sections := make([]string, 0, len(schema))
	for s := range schema {
		sections = append(sections, s)
	}
	sort.Strings(sections)
	var homes []string // where key belongs, if not here
	for _, section := range sections {
		if section == sectionOf(path) {
			continue
		}
		for _, k := range schema[section] {
			if k != key {
				continue
			}
			switch {
			case section == "":
				homes = append(homes, "at the top level")
			case strings.HasSuffix(section, "[]"):
				homes = append(homes, fmt.Sprintf("in an item of %s", strings.TrimSuffix(section, "[]")))
			default:
				homes = append(homes, fmt.Sprintf("under %s (%s.%s)", section, section, key))
			}
		}
	}
	if len(homes) > 0 {
		not := ""
		if homes[0] == "at the top level" && len(homes) == 1 {
			not = ", not under " + path
		}
		return fmt.Sprintf("%s here; %q belongs %s%s", msg, key, strings.Join(homes, " or "), not)
	}
	where := "the top level"
	if path != "" {
		where = path
	}
	return fmt.Sprintf("%s; the keys of %s are %s", msg, where, strings.Join(known, ", "))
}

// sectionOf is the schema section of a path: list indexes become [], so
// checks[2] is checks[].
func sectionOf(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		b.WriteByte(path[i])
		if path[i] == '[' {
			for i+1 < len(path) && path[i+1] != ']' {
				i++
			}
		}
	}
	return b.String()
}
