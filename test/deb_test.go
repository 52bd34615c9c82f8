package test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The Debian package (packaging/build-deb.sh, make deb): what it contains, that dpkg
// installs and purges it in a scratch root, and that its unit passes systemd-analyze
// verify.

// debFile is one file the package must contain, with its mode.
type debFile struct {
	path string
	mode string // as dpkg-deb -c prints it
}

// debFiles are the package's files. Every one is owned by root:root.
var debFiles = []debFile{
	{"./usr/sbin/raftvip", "-rwxr-xr-x"},
	{"./lib/systemd/system/raftvip.service", "-rw-r--r--"},
	{"./usr/share/man/man8/raftvip.8.gz", "-rw-r--r--"},
	{"./usr/share/bash-completion/completions/raftvip", "-rw-r--r--"},
	{"./usr/share/zsh/vendor-completions/_raftvip", "-rw-r--r--"},
	{"./usr/share/fish/vendor_completions.d/raftvip.fish", "-rw-r--r--"},
	{"./usr/share/doc/raftvip/copyright", "-rw-r--r--"},
	{"./usr/share/doc/raftvip/changelog.gz", "-rw-r--r--"},
	{"./usr/share/doc/raftvip/README.md.gz", "-rw-r--r--"},
	{"./usr/share/doc/raftvip/examples/raftvip.yaml", "-rw-r--r--"},
	{"./etc/raftvip/", "drwx------"}, // the config holds the gossip key
}

// debSkip skips t with why, or fails it when RAFTVIP_E2E=require (as RequireRoot).
func debSkip(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("RAFTVIP_E2E") == "require" {
		t.Fatal("deb: " + why + ", and RAFTVIP_E2E=require is set")
	}
	t.Skip("deb: " + why + "; skipping (RAFTVIP_E2E=require turns this into a failure)")
}

// debRun runs name args... and returns its standard output; it fails t with the
// command's output if it fails.
func debRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// buildDeb builds the package from the lab's binary into a temporary directory and
// returns its path and the binary's.
func buildDeb(t *testing.T) (deb, bin string) {
	t.Helper()
	for _, tool := range []string{"dpkg-deb", "dpkg", "gzip", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			debSkip(t, "needs "+tool+" in PATH")
		}
	}
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := debRun(t, filepath.Join(root, "packaging", "build-deb.sh"),
		"--binary", bin, "--out", t.TempDir(), "--compress-level", "1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	deb = lines[len(lines)-1]
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("build-deb.sh printed %q last; want the package's path", deb)
	}
	return deb, bin
}

// debListingLine is one line of dpkg-deb -c: "drwxr-xr-x root/root 0 2026-11-22 08:56 ./etc/".
var debListingLine = regexp.MustCompile(`^(\S{10}) (\S+)\s+\d+ \S+ \S+ (\S+)$`)

func TestDebPackage(t *testing.T) {
	deb, bin := buildDeb(t)
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("listing", func(t *testing.T) {
		listed := map[string][2]string{} // path -> mode, owner
		for line := range strings.SplitSeq(strings.TrimSpace(debRun(t, "dpkg-deb", "-c", deb)), "\n") {
			m := debListingLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("dpkg-deb -c line %q: unexpected form", line)
			}
			listed[m[3]] = [2]string{m[1], m[2]}
		}
		for _, f := range debFiles {
			got, ok := listed[f.path]
			switch {
			case !ok:
				t.Errorf("%s: not in the package", f.path)
			case got[0] != f.mode:
				t.Errorf("%s: mode %s, want %s", f.path, got[0], f.mode)
			}
		}
		for path, got := range listed {
			if got[1] != "root/root" {
				t.Errorf("%s: owned by %s, want root/root", path, got[1])
			}
			if got[0][0] == '-' && strings.ContainsAny(got[0][4:], "w") {
				t.Errorf("%s: mode %s is writable by group or others", path, got[0])
			}
			if got[0][0] == 'd' && path != "./etc/raftvip/" && got[0] != "drwxr-xr-x" {
				t.Errorf("%s: directory mode %s, want drwxr-xr-x", path, got[0])
			}
			if !strings.HasPrefix(path, "./etc/") && !strings.HasPrefix(path, "./usr/") && !strings.HasPrefix(path, "./lib/") && path != "./" {
				t.Errorf("%s: outside /etc, /usr and /lib", path)
			}
		}
		if _, ok := listed["./etc/raftvip/raftvip.yaml"]; ok {
			t.Error("the package ships a live /etc/raftvip/raftvip.yaml; it must ship only the example")
		}
	})

	t.Run("control", func(t *testing.T) {
		fields := map[string]string{}
		for _, name := range []string{"Package", "Version", "Architecture", "Maintainer", "Installed-Size", "Depends", "Recommends", "Section", "Priority", "Description"} {
			fields[name] = strings.TrimSpace(debRun(t, "dpkg-deb", "-f", deb, name))
		}
		version := strings.TrimPrefix(strings.TrimSpace(debRun(t, bin, "version")), "raftvip ")
		wantVersion := strings.TrimSpace(debRun(t, filepath.Join(root, "packaging", "build-deb.sh"), "--debian-version", version))
		arch := strings.TrimSpace(debRun(t, "dpkg", "--print-architecture"))
		for name, want := range map[string]string{
			"Package": "raftvip", "Version": wantVersion, "Architecture": arch,
			"Section": "net", "Priority": "optional", "Recommends": "haproxy",
		} {
			if fields[name] != want {
				t.Errorf("%s: %q, want %q", name, fields[name], want)
			}
		}
		if !regexp.MustCompile(`^[^<>]+ <[^<>@ ]+@[^<>@ ]+>$`).MatchString(fields["Maintainer"]) {
			t.Errorf("Maintainer %q is not Name <address>", fields["Maintainer"])
		}
		if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(fields["Installed-Size"]) {
			t.Errorf("Installed-Size %q is not a size in KiB", fields["Installed-Size"])
		}
		if !strings.HasPrefix(fields["Description"], "virtual IP manager") || !strings.Contains(fields["Description"], "\n") {
			t.Errorf("Description %q: want a synopsis and a long description", fields["Description"])
		}
		// A binary linked against libc needs it; a static one needs nothing.
		dynamic := exec.Command("ldd", bin).Run() == nil
		if dynamic != strings.Contains(fields["Depends"], "libc6") {
			t.Errorf("Depends %q for a binary that is dynamically linked: %v", fields["Depends"], dynamic)
		}
		scripts := debRun(t, "dpkg-deb", "-I", deb)
		for _, s := range []string{"postinst", "prerm", "postrm", "md5sums"} {
			if !strings.Contains(scripts, " "+s+" ") {
				t.Errorf("control area lacks %s:\n%s", s, scripts)
			}
		}
		if path, err := exec.LookPath("lintian"); err == nil {
			out, _ := exec.Command(path, "--no-tag-display-limit", deb).CombinedOutput()
			t.Logf("lintian (for information only):\n%s", out)
		}
	})

	t.Run("contents", func(t *testing.T) {
		dir := t.TempDir()
		debRun(t, "dpkg-deb", "-x", deb, dir)
		man := debGunzip(t, filepath.Join(dir, "usr/share/man/man8/raftvip.8.gz"))
		for _, verb := range []string{".SS agent", ".SS status", ".SS drain", ".SS release-vip", `.SS "config check"`, ".SH FILES"} {
			if !strings.Contains(man, verb+"\n") {
				t.Errorf("man page lacks %q", verb)
			}
		}
		if groff, err := exec.LookPath("groff"); err == nil {
			cmd := exec.Command(groff, "-man", "-ww", "-z")
			cmd.Stdin = strings.NewReader(man)
			if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("groff warns about the man page: %v\n%s", err, out)
			}
		}
		example, err := os.ReadFile(filepath.Join(dir, "usr/share/doc/raftvip/examples/raftvip.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if want := debRun(t, bin, "config", "example"); string(example) != want {
			t.Error("examples/raftvip.yaml differs from raftvip config example")
		}
		for path, want := range map[string]string{
			"usr/share/bash-completion/completions/raftvip":    "complete -o bashdefault -o default -F _raftvip raftvip",
			"usr/share/zsh/vendor-completions/_raftvip":        "#compdef raftvip",
			"usr/share/fish/vendor_completions.d/raftvip.fish": "complete -c raftvip",
			"usr/share/doc/raftvip/copyright":                  "Upstream-Name: raftvip",
			"lib/systemd/system/raftvip.service":               "ExecStopPost=/usr/sbin/raftvip release-vip --config /etc/raftvip/raftvip.yaml",
		} {
			b, err := os.ReadFile(filepath.Join(dir, path))
			if err != nil {
				t.Error(err)
				continue
			}
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
		// Every module compiled into the binary has its license in the copyright file.
		copyright, _ := os.ReadFile(filepath.Join(dir, "usr/share/doc/raftvip/copyright"))
		for line := range strings.SplitSeq(debRun(t, "go", "version", "-m", bin), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "dep" {
				if !bytes.Contains(copyright, []byte("Go module "+f[1]+" "+f[2]+",")) {
					t.Errorf("copyright has no paragraph for %s %s", f[1], f[2])
				}
			}
		}
		// The binary the unit runs is the one the package installs.
		unit, _ := os.ReadFile(filepath.Join(dir, "lib/systemd/system/raftvip.service"))
		for _, exe := range debUnitExecutables(string(unit)) {
			if exe != "/usr/sbin/raftvip" && exe != "/bin/kill" {
				t.Errorf("the unit runs %s; want /usr/sbin/raftvip (or /bin/kill for reload)", exe)
			}
		}
	})

	t.Run("dpkg-install", func(t *testing.T) {
		if os.Geteuid() != 0 {
			debSkip(t, "installing into a scratch root needs root")
		}
		sroot := t.TempDir()
		for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
			if err := os.MkdirAll(filepath.Join(sroot, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(sroot, "var/lib/dpkg/status"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		// Maintainer scripts run outside the root with DPKG_ROOT set; they must not
		// touch this machine's systemd. Depends (libc6 of a dynamic binary) is not in
		// the empty root's database.
		dpkg := func(args ...string) string {
			return debRun(t, "dpkg", append([]string{"--root=" + sroot, "--force-script-chrootless", "--force-depends"}, args...)...)
		}
		out := dpkg("-i", deb)
		if !strings.Contains(out, "not enabled") {
			t.Errorf("postinst without a config did not say the service is not enabled:\n%s", out)
		}
		if st := dpkg("-s", "raftvip"); !strings.Contains(st, "Status: install ok installed") {
			t.Fatalf("dpkg -s after install:\n%s", st)
		}
		installed := filepath.Join(sroot, "usr/sbin/raftvip")
		if v := debRun(t, installed, "version"); !strings.HasPrefix(v, "raftvip ") {
			t.Errorf("installed raftvip version: %q", v)
		}

		// Reinstalling the same version over itself is an upgrade to dpkg: the scripts
		// take the upgrade paths, with a config present this time.
		debWriteFile(t, filepath.Join(sroot, "etc/raftvip/raftvip.yaml"), "# the operator's\n")
		if out := dpkg("-i", deb); strings.Contains(out, "not enabled") {
			t.Errorf("postinst with a config still says to write one:\n%s", out)
		}

		t.Run("verify-unit", func(t *testing.T) { debVerifyUnit(t, sroot) })

		// Purge removes what the package and the agent made, and leaves the operator's
		// files in /etc/raftvip.
		debWriteFile(t, filepath.Join(sroot, "var/lib/raftvip/raft/raft.db"), "state")
		if err := os.MkdirAll(filepath.Join(sroot, "etc/systemd/system/multi-user.target.wants"), 0o755); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(sroot, "etc/systemd/system/multi-user.target.wants/raftvip.service")
		if err := os.Symlink("/lib/systemd/system/raftvip.service", link); err != nil {
			t.Fatal(err)
		}
		dpkg("--purge", "raftvip")
		for _, gone := range []string{"usr/sbin/raftvip", "lib/systemd/system/raftvip.service", "var/lib/raftvip", "usr/share/doc/raftvip", link} {
			if _, err := os.Lstat(filepath.Join(sroot, strings.TrimPrefix(gone, sroot))); err == nil {
				t.Errorf("%s still exists after purge", gone)
			}
		}
		if _, err := os.Stat(filepath.Join(sroot, "etc/raftvip/raftvip.yaml")); err != nil {
			t.Errorf("purge removed the operator's config: %v", err)
		}
		if st, _ := exec.Command("dpkg", "--root="+sroot, "-s", "raftvip").CombinedOutput(); bytes.Contains(st, []byte("Status: install")) {
			t.Errorf("dpkg -s after purge:\n%s", st)
		}
	})
}

// debVerifyUnit runs systemd-analyze verify on the unit installed in sroot (systemd
// need not run here: verify loads the unit offline). The unit names /usr/sbin/raftvip,
// which this machine need not have: the copy verified runs the binary in sroot instead
// (the contents test checks the paths themselves), and MANPATH lets the check of
// Documentation=man:raftvip(8) find the installed man page.
func debVerifyUnit(t *testing.T, sroot string) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		debSkip(t, "needs systemd-analyze (apt-get install systemd)")
	}
	unit, err := os.ReadFile(filepath.Join(sroot, "lib/systemd/system/raftvip.service"))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "raftvip.service")
	debWriteFile(t, copyPath, strings.ReplaceAll(string(unit), "/usr/sbin/raftvip", filepath.Join(sroot, "usr/sbin/raftvip")))
	args := []string{"verify", copyPath}
	if _, err := exec.LookPath("man"); err != nil {
		t.Log("no man(1) here: Documentation=man:raftvip(8) is not checked")
		args = []string{"verify", "--man=no", copyPath}
	}
	cmd := exec.Command(analyze, args...)
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(sroot, "usr/share/man"))
	out, err := cmd.CombinedOutput()
	// verify prints problems of other units it loads (the host's); only raftvip's count.
	var mine []string
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.Contains(line, "raftvip") {
			mine = append(mine, line)
		}
	}
	if err != nil || len(mine) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	sec := exec.Command(analyze, "security", "--offline=yes", copyPath)
	if out, err := sec.CombinedOutput(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Logf("systemd-analyze security: %s", lines[len(lines)-1])
	}
}

// debUnitExecutables returns the programs of a unit's Exec*= lines, without their
// prefixes (-, @, +, !).
func debUnitExecutables(unit string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(unit))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "Exec") {
			continue
		}
		_, cmd, ok := strings.Cut(line, "=")
		if f := strings.Fields(cmd); ok && len(f) > 0 {
			out = append(out, strings.TrimLeft(f[0], "-@+!:|"))
		}
	}
	return slices.Compact(out)
}

func debGunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}

func debWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
