package main

import (
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// visibleVerbs are the operator-facing verbs (not hidden) of the app, with their
// subcommands as "parent child".
func visibleVerbs(t *testing.T) []string {
	t.Helper()
	var verbs []string
	for _, c := range newApp(io.Discard, io.Discard).Commands {
		if c.Hidden {
			continue
		}
		verbs = append(verbs, c.Name)
		for _, sub := range c.Subcommands {
			if !sub.Hidden {
				verbs = append(verbs, c.Name+" "+sub.Name)
			}
		}
	}
	if len(verbs) < 10 {
		t.Fatalf("only %d visible verbs: %v", len(verbs), verbs)
	}
	return verbs
}

func TestGenMan(t *testing.T) {
	out, _, err := run(t, "gen", "man")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH RAFTVIP 8 ""`, ".SH NAME", ".SH DESCRIPTION", ".SH COMMANDS", ".SH FILES", "/etc/raftvip/raftvip.yaml", ".SH SEE ALSO"} {
		if !strings.Contains(out, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	for _, verb := range visibleVerbs(t) {
		heading := ".SS " + verb
		if strings.Contains(verb, " ") {
			heading = `.SS "` + verb + `"`
		}
		if !strings.Contains(out, heading+"\n") {
			t.Errorf("man page has no subsection %q for the verb", heading)
		}
	}
	for _, hidden := range []string{"vip-guard", ".SS gen"} {
		if strings.Contains(out, hidden) {
			t.Errorf("man page documents the hidden %q", hidden)
		}
	}
	// The sections after COMMANDS stay sections.
	if i, j := strings.Index(out, ".SH COMMANDS"), strings.Index(out, ".SH FILES"); i < 0 || j < i {
		t.Errorf("FILES (at %d) should follow COMMANDS (at %d)", j, i)
	}

	if out, _, err := run(t, "gen", "man", "--section", "1"); err != nil || !strings.Contains(out, `.TH RAFTVIP 1 ""`) {
		t.Errorf("--section 1: err %v, title %q", err, strings.SplitN(out, "\n", 3)[:2])
	}
	if _, _, err := run(t, "gen", "man", "--section", "12"); err == nil || !strings.Contains(err.Error(), "--section 12") {
		t.Errorf("--section 12: err %v; want it named", err)
	}
}

func TestGenCompletion(t *testing.T) {
	fish, _, err := run(t, "gen", "completion", "fish")
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range visibleVerbs(t) {
		name := verb[strings.LastIndex(verb, " ")+1:]
		if !strings.Contains(fish, "-a '"+name+"'") {
			t.Errorf("fish completion does not offer %q", verb)
		}
	}
	if strings.Contains(fish, "vip-guard") || strings.Contains(fish, "'gen'") {
		t.Error("fish completion offers a hidden verb")
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(fish, "\n") {
		if line != "" && seen[line] {
			t.Errorf("fish completion repeats %q", line)
		}
		seen[line] = true
	}

	tests := []struct {
		shell string
		want  []string
	}{
		{"bash", []string{"--generate-bash-completion", "complete -o bashdefault -o default -F _raftvip raftvip"}},
		{"zsh", []string{"#compdef raftvip", "--generate-bash-completion", "compdef _raftvip raftvip"}},
	}
	for _, tt := range tests {
		out, _, err := run(t, "gen", "completion", tt.shell)
		if err != nil {
			t.Errorf("%s: %v", tt.shell, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s completion lacks %q", tt.shell, w)
			}
		}
	}

	if _, _, err := run(t, "gen", "completion", "tcsh"); err == nil || !strings.Contains(err.Error(), `"tcsh"`) {
		t.Errorf("tcsh: err %v; want it named", err)
	}
	if _, _, err := run(t, "gen", "completion"); err == nil {
		t.Error("no shell: no error")
	}
}

// complete runs `raftvip args... --generate-bash-completion` as the shell scripts do.
// urfave/cli reads os.Args to tell a flag from a command (the word before the last), so
// os.Args is the command line for the call; no test here runs in parallel.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	args = append(args, "--generate-bash-completion")
	saved := os.Args
	os.Args = append([]string{"raftvip"}, args...)
	defer func() { os.Args = saved }()
	out, _, err := run(t, args...)
	if err != nil {
		t.Fatalf("complete %v: %v", args, err)
	}
	return strings.Fields(out)
}

// TestCompletionWords checks what the shell scripts ask the binary for: the verbs
// after the program name, a group's subcommands after the group, a verb's flags after
// a dash.
func TestCompletionWords(t *testing.T) {
	words := complete(t)
	for _, verb := range visibleVerbs(t) {
		if !strings.Contains(verb, " ") && !slices.Contains(words, verb) {
			t.Errorf("top-level completion lacks %q: %v", verb, words)
		}
	}
	for _, hidden := range []string{"vip-guard", "gen"} {
		if slices.Contains(words, hidden) {
			t.Errorf("top-level completion offers the hidden %q", hidden)
		}
	}
	if w := complete(t, "config"); !slices.Contains(w, "check") || !slices.Contains(w, "example") {
		t.Errorf("config completion: %v; want check and example", w)
	}
	if w := complete(t, "drain", "-"); !slices.Contains(w, "--off") || !slices.Contains(w, "--wait") {
		t.Errorf("drain - completion: %v; want --off and --wait", w)
	}
}
