package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/cluster/config"
)

const kaTestdata = "../../cluster/keepalived/testdata/keepalived"

// loadConverted loads the config convert wrote to stdout: stdout is the config alone.
func loadConverted(t *testing.T, out string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raftvip.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the converted config does not load: %v\n%s", err, out)
	}
	return cfg
}

func TestKeepalivedConvert(t *testing.T) {
	pair := filepath.Join(kaTestdata, "haproxy_pair.conf")
	for _, c := range []struct {
		name string
		args []string
	}{
		{"flags first", []string{"keepalived", "convert", "--name", "lb2", "--peer", "lb1=198.18.0.11", "--insecure", pair}},
		{"flags after the file", []string{"keepalived", "convert", pair, "--name", "lb2", "--peer", "lb1=198.18.0.11", "--insecure"}},
		{"mixed", []string{"keepalived", "convert", "--name", "lb2", pair, "-peer=lb1=198.18.0.11", "--insecure"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, err := run(t, c.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			cfg := loadConverted(t, out)
			if cfg.Node.Name != "lb2" || len(cfg.Cluster.Peers) != 2 || !cfg.VRRP.Enabled || cfg.VRRP.VRID != 51 || cfg.VRRP.AuthPass != "s3cret" {
				t.Errorf("config %+v", cfg)
			}
			// stderr says what was not converted, with file and line.
			for _, want := range []string{"converted vrrp_instance VI_1 of " + pair, "not converted (10):",
				pair + ":46: garp_master_delay 10: not needed", "converted with a difference"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if strings.Contains(errOut, "fill in before use") {
				t.Errorf("placeholders reported with every flag given:\n%s", errOut)
			}
		})
	}
}

// A file with several instances converts into groups:, or into the one-group form of
// the instance --instance names.
func TestKeepalivedConvertGroups(t *testing.T) {
	pair := filepath.Join(kaTestdata, "active_active_lb1.conf")
	for _, c := range []struct {
		name       string
		args       []string
		groups     []string // nil: the vip: form
		wantStderr []string
	}{
		{"every instance", []string{"keepalived", "convert", pair, "--name", "lb1", "--peer", "lb2=198.18.0.12", "--insecure"},
			[]string{"VI_WEB", "VI_API"},
			[]string{"converted 2 vrrp_instances of " + pair + " into groups:", "  vrrp_instance VI_WEB: group VI_WEB", "  vrrp_instance VI_API: group VI_API"}},
		{"--instance", []string{"keepalived", "convert", pair, "--instance", "VI_API", "--name", "lb1", "--peer", "lb2=198.18.0.12", "--insecure"},
			nil,
			[]string{"converted vrrp_instance VI_API of " + pair, pair + ":15: vrrp_instance VI_WEB { ... }: not converted: only vrrp_instance VI_API is (--instance)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, err := run(t, c.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			cfg := loadConverted(t, out)
			var names []string
			for _, g := range cfg.Groups {
				names = append(names, g.Name)
			}
			if cfg.GroupsSection != (c.groups != nil) || c.groups != nil && !slices.Equal(names, c.groups) {
				t.Errorf("groups %q (groups: %v), want %q", names, cfg.GroupsSection, c.groups)
			}
			for _, want := range c.wantStderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

func TestKeepalivedConvertPlaceholders(t *testing.T) {
	out, errOut, err := run(t, "keepalived", "convert", filepath.Join(kaTestdata, "multi.conf"), "--instance", "VI_INTERNAL")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `name: "<node-name>"`) || !strings.Contains(errOut, "fill in before use") || !strings.Contains(errOut, "--name") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
}

func TestKeepalivedConvertErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"no file", []string{"keepalived", "convert"}, []string{"takes one argument"}},
		{"missing file", []string{"keepalived", "convert", filepath.Join(dir, "none.conf")}, []string{"none.conf", "no such file"}},
		{"two files", []string{"keepalived", "convert", filepath.Join(kaTestdata, "multi.conf"), "other.conf"}, []string{"takes one file", "other.conf"}},
		{"unknown flag", []string{"keepalived", "convert", filepath.Join(kaTestdata, "multi.conf"), "--nmae", "x"}, []string{"-nmae", "--instance, --name"}},
		{"a sync group with two preempt policies", []string{"keepalived", "convert", filepath.Join(kaTestdata, "multi.conf")}, []string{"multi.conf:32: vrrp_sync_group: vrrp_instance VI_INTERNAL has nopreempt", "--instance"}},
		{"unclosed block", []string{"keepalived", "convert", filepath.Join(kaTestdata, "malformed_unclosed.conf")}, []string{"malformed_unclosed.conf:1:", "never closed"}},
		{"unterminated quote", []string{"keepalived", "convert", filepath.Join(kaTestdata, "malformed_quote.conf")}, []string{"malformed_quote.conf:2:"}},
		{"three problems", []string{"keepalived", "convert", filepath.Join(kaTestdata, "malformed_ah.conf")}, []string{"3 problems", "malformed_ah.conf:4:", "malformed_ah.conf:5:", "malformed_ah.conf:9:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := run(t, c.args...)
			if err == nil {
				t.Fatalf("no error; stdout:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if out != "" {
				t.Errorf("stdout has output on error:\n%s", out)
			}
		})
	}
}
