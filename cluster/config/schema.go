package config

import (
	"fmt"
	"slices"
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
// keys of every check type; "groups[]" an item of groups.
func knownKeys() map[string][]string {
	return map[string][]string{
		"":               {"node", "cluster", "admin", "vip", "groups", "priority", "preempt", "preempt_delay", "min_move_interval", "checks", "notify", "vrrp", "log", "metrics"},
		"node":           {"name", "data_dir", "bind", "raft_port", "gossip_port", "role"},
		"cluster":        {"peers", "bootstrap_expect", "join", "timing", "encrypt", "tls", "insecure"},
		"cluster.timing": {"profile", "heartbeat_timeout", "election_timeout", "leader_lease", "commit_timeout", "vip_lease", "rpc_timeout", "claim_margin"},
		"cluster.tls":    {"ca_file", "cert_file", "key_file"},
		"admin":          {"socket", "listen", "token_file"},
		"metrics":        {"listen"},
		"vip":            {"interface", "addresses", "lifetime", "fencing", "garp", "drain"},
		"vip.garp":       {"repeat", "interval", "refresh"},
		"checks[]":       checkKeys(),
		"notify":         {"master", "backup", "fault", "stop", "script", "instance", "timeout"},
		"vrrp":           vrrpKeys(),
		"groups[]":       {"name", "interface", "addresses", "priority", "track", "preempt", "preempt_delay", "min_move_interval", "together", "lifetime", "fencing", "garp", "drain", "vrrp"},
		"groups[].garp":  {"repeat", "interval", "refresh"},
		"groups[].vrrp":  vrrpKeys(),
		"log":            {"level", "format"},
	}
}

func vrrpKeys() []string {
	return []string{"enabled", "version", "vrid", "advert_interval", "auth_pass", "unicast_peers", "unicast_src", "interface"}
}

// formOf is the form of the file a section belongs to: "vip" for vip: and the
// top-level vrrp:, "groups" for the items of groups:, "" for both.
func formOf(section string) string {
	switch {
	case section == "vip" || strings.HasPrefix(section, "vip.") || section == "vrrp":
		return "vip"
	case strings.HasPrefix(section, "groups[]"):
		return "groups"
	}
	return ""
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
	// Where key belongs, if not here: in the sections of the file's own form (vip: or
	// groups:) when it has any there, else wherever it is a key.
	form := "vip"
	if d.groupsForm {
		form = "groups"
	}
	var homes, elsewhere []string
	for _, section := range sections {
		if section == sectionOf(path) || !slices.Contains(schema[section], key) {
			continue
		}
		var home string
		list, sub, nested := strings.Cut(section, "[].")
		switch {
		case section == "":
			home = "at the top level"
		case strings.HasSuffix(section, "[]"):
			home = fmt.Sprintf("in an item of %s", strings.TrimSuffix(section, "[]"))
		case nested:
			home = fmt.Sprintf("under %s in an item of %s (%s.%s)", sub, list, section, key)
		default:
			home = fmt.Sprintf("under %s (%s.%s)", section, section, key)
		}
		if f := formOf(section); f == "" || f == form {
			homes = append(homes, home)
		} else {
			elsewhere = append(elsewhere, home)
		}
	}
	if len(homes) == 0 {
		homes = elsewhere
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
