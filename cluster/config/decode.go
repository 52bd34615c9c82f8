package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// resolve follows aliases (*name) to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n != nil && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		if v := []rune(n.Value); len(v) > 40 {
			return fmt.Sprintf("%q...", string(v[:40]))
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keyField is one known key of a mapping and what to do with its value.
type keyField struct {
	key    string
	decode func(path string, v *yaml.Node)
}

// mapping decodes a mapping at path: known keys go to their decode functions, in file
// order; unknown, duplicate and unsupported keys are errors. A null value is an empty
// mapping. It returns false if n is not a mapping.
func (d *decoder) mapping(path string, n *yaml.Node, fields []keyField) bool {
	line := n.Line
	n = resolve(n)
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		what := "keys"
		if path != "" {
			what = "keys under " + path[strings.LastIndex(path, ".")+1:] + ":"
		}
		d.add(line, path, "expected a mapping (%s), found %s", what, kindOf(n))
		return false
	}
	unsupported := unsupportedKeys()
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.add(k.Line, path, "keys must be plain names, found %s", kindOf(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.add(k.Line, path, "YAML merge keys (<<) are not supported in a raftvip config; write the keys out")
			continue
		}
		name := k.Value
		if name == "" || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) {
			name = strconv.Quote(name)
		}
		p := joinPath(path, name)
		if first, dup := seen[k.Value]; dup {
			d.add(k.Line, p, "duplicate key (first set on line %d); remove one of them", first)
			continue
		}
		seen[k.Value] = k.Line
		if hint, ok := unsupported[p]; ok {
			d.add(k.Line, p, "%s", hint)
			continue
		}
		var field *keyField
		for j := range fields {
			if fields[j].key == k.Value {
				field = &fields[j]
			}
		}
		if field == nil {
			d.add(k.Line, p, "%s", d.unknownKey(path, k.Value, fields))
			continue
		}
		if vl := resolve(v); vl != nil && vl.Kind != yaml.ScalarNode {
			d.lines[p] = k.Line
		} else {
			d.lines[p] = v.Line
		}
		field.decode(p, v)
	}
	return true
}

// scalar returns the scalar value of n, or records why it is not one. want says what
// the field expects, e.g. "an IP address such as 198.18.0.11".
func (d *decoder) scalar(path string, n *yaml.Node, want string) (string, bool) {
	line := n.Line
	n = resolve(n)
	switch {
	case isNull(n):
		d.add(line, path, "has no value; expected %s", want)
		return "", false
	case n.Kind != yaml.ScalarNode:
		d.add(line, path, "expected %s, found %s", want, kindOf(n))
		return "", false
	}
	return n.Value, true
}

// enum decodes one of a fixed set of words.
func (d *decoder) enum(path string, n *yaml.Node, dst *string, words ...string) {
	list := orList(words)
	s, ok := d.scalar(path, n, list)
	if !ok {
		return
	}
	for _, w := range words {
		if s == w {
			*dst = s
			return
		}
	}
	if c, ok := closest(s, words); ok {
		d.add(n.Line, path, "%q is not one of %s; did you mean %q?", s, list, c)
		return
	}
	d.add(n.Line, path, "%q is not one of %s", s, list)
}

// integer decodes a whole number in [lo, hi]; why explains the range.
func (d *decoder) integer(path string, n *yaml.Node, lo, hi int, why string, dst *int) bool {
	s, ok := d.scalar(path, n, fmt.Sprintf("a whole number from %d to %d", lo, hi))
	if !ok {
		return false
	}
	v, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil {
		d.add(n.Line, path, "%q is not a whole number; use a number from %d to %d", s, lo, hi)
		return false
	}
	if v < lo || v > hi {
		d.add(n.Line, path, "%d is out of range; %s", v, why)
		return false
	}
	*dst = v
	return true
}

func (d *decoder) port(path string, n *yaml.Node, dst *int) bool {
	return d.integer(path, n, 1, 65535, "a port is 1 to 65535", dst)
}

// duration decodes a Go duration ("300ms", "2s"). A bare number other than 0 is an
// error: its unit would be a guess.
func (d *decoder) duration(path string, n *yaml.Node, dst *time.Duration) bool {
	s, ok := d.scalar(path, n, `a duration such as "300ms" or "2s"`)
	if !ok {
		return false
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, ferr := strconv.ParseFloat(s, 64); ferr == nil {
			d.add(n.Line, path, "%q has no unit; write a duration with its unit, e.g. \"%sms\" or \"%ss\"", s, s, s)
		} else {
			d.add(n.Line, path, "%q is not a duration; write a number with a unit (ms, s, m), e.g. \"300ms\" or \"2s\"", s)
		}
		return false
	}
	*dst = v
	return true
}

// boolean decodes true or false.
func (d *decoder) boolean(path string, n *yaml.Node, dst *bool) {
	s, ok := d.scalar(path, n, "true or false")
	if !ok {
		return
	}
	switch strings.ToLower(s) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	case "yes", "on", "y":
		d.add(n.Line, path, "%q is not a boolean here (YAML 1.2); write true", s)
	case "no", "off", "n":
		d.add(n.Line, path, "%q is not a boolean here (YAML 1.2); write false", s)
	default:
		d.add(n.Line, path, "%q is not true or false", s)
	}
}

// ShellChars are the characters that mean something to a shell but nothing to
// a command split on white space.
const ShellChars = "|&;<>()$`\\\"'*?~"

// argv decodes a command: a YAML list of arguments, or a string split on white
// space. A null is no command (nil). A string that looks like it wants a shell is an
// error: commands run without one.
func (d *decoder) argv(path string, n *yaml.Node, example string, dst *[]string) bool {
	line := n.Line
	n = resolve(n)
	var args []string
	switch {
	case isNull(n):
		return true
	case n.Kind == yaml.ScalarNode:
		s := n.Value
		if i := strings.IndexAny(s, ShellChars); i >= 0 {
			d.add(line, path, "%q has %q, but commands run without a shell, so it would be passed on as a literal argument; write the command as a list of arguments, e.g. %s, or to use a shell: [/bin/sh, -c, %q]",
				s, s[i], example, s)
			return false
		}
		args = strings.Fields(s)
	case n.Kind == yaml.SequenceNode:
		ok := true
		for i, it := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			a, good := d.scalar(p, it, "one argument (a string)")
			ok = ok && good
			args = append(args, a)
		}
		if !ok {
			return false
		}
	default:
		d.add(line, path, "expected a command, a list of arguments such as %s or a string such as %q, found %s",
			example, strings.ReplaceAll(strings.Trim(example, "[]"), ",", ""), kindOf(n))
		return false
	}
	switch {
	case len(args) == 0:
		d.add(line, path, "is empty; give a command, e.g. %s, or remove the line", example)
		return false
	case args[0] == "":
		d.add(line, path, "the program (first argument) is empty; give a command, e.g. %s", example)
		return false
	}
	*dst = args
	return true
}

// seq returns the items of a list, or records why n is not one. A null is an empty list.
func (d *decoder) seq(path string, n *yaml.Node, example string) ([]*yaml.Node, bool) {
	line := n.Line
	n = resolve(n)
	switch {
	case isNull(n):
		return nil, true
	case n.Kind != yaml.SequenceNode:
		d.add(line, path, "expected a list, e.g. %s, found %s", example, kindOf(n))
		return nil, false
	}
	return n.Content, true
}

// validString decodes a string at path that problem accepts (problem returns "" for a
// good value, else what is wrong and what would be right) into dst.
func (d *decoder) validString(path string, n *yaml.Node, example string, problem func(string) string, dst *string) {
	parsed(d, path, n, example, func(s string) (string, string) { return s, problem(s) }, dst)
}

// parsed decodes a scalar at path that parse turns into a value (or says what is wrong
// and what would be right) into dst. want says what the field expects.
func parsed[T any](d *decoder, path string, n *yaml.Node, want string, parse func(string) (T, string), dst *T) {
	s, ok := d.scalar(path, n, want)
	if !ok {
		return
	}
	v, msg := parse(s)
	if msg != "" {
		d.add(n.Line, path, "%s", msg)
		return
	}
	*dst = v
}
