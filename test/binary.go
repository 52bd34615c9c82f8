package test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// built is the raftvip binary that Binary found or built, once per process.
var built struct {
	once sync.Once
	path string
	dir  string // temporary build directory, removed by RemoveBuiltBinary
	err  error
}

// Binary returns the path of the raftvip binary the lab runs: $RAFTVIP_BIN if set,
// else `go build -o <tmp>/raftvip ./cmd/raftvip` in the module root, done once per
// process. The result (and a build error) is cached.
func Binary() (string, error) {
	built.once.Do(func() {
		if p := os.Getenv("RAFTVIP_BIN"); p != "" {
			abs, err := filepath.Abs(p)
			if err != nil {
				built.err = fmt.Errorf("lab: RAFTVIP_BIN %q: %w", p, err)
				return
			}
			if _, err := os.Stat(abs); err != nil {
				built.err = fmt.Errorf("lab: RAFTVIP_BIN: %w", err)
				return
			}
			built.path = abs
			return
		}
		root, err := ModuleRoot()
		if err != nil {
			built.err = err
			return
		}
		if err := os.MkdirAll(StateRoot, 0o755); err != nil {
			built.err = fmt.Errorf("lab: build raftvip: %w", err)
			return
		}
		dir, err := os.MkdirTemp(StateRoot, fmt.Sprintf("bin-%d-", os.Getpid()))
		if err != nil {
			built.err = fmt.Errorf("lab: build raftvip: %w", err)
			return
		}
		out := filepath.Join(dir, "raftvip")
		cmd := exec.Command("go", "build", "-o", out, "./cmd/raftvip")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			built.err = fmt.Errorf("lab: go build ./cmd/raftvip: %w\n%s", err, bytes.TrimSpace(b))
			return
		}
		built.path, built.dir = out, dir
	})
	return built.path, built.err
}

// RemoveBuiltBinary deletes the binary Binary built, if it built one. Call it at the
// end of TestMain or main.
func RemoveBuiltBinary() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// ModuleRoot finds the directory of raftvip's go.mod: from this source file's path if
// it still exists (go test, go run), else by walking up from the working directory.
func ModuleRoot() (string, error) {
	isRoot := func(dir string) bool {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		return err == nil && bytes.Contains(b, []byte("module github.com/raftvip/raftvip\n"))
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		if dir := filepath.Dir(filepath.Dir(file)); isRoot(dir) {
			return dir, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("lab: module root: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isRoot(dir) {
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	return "", errors.New("lab: module root: no go.mod of github.com/raftvip/raftvip above " + wd + " (set RAFTVIP_BIN)")
}

// RootProblem says why the e2e suite cannot run here ("" if it can): not root, or a
// tool it needs is missing.
func RootProblem() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces)"
	}
	var missing []string
	for _, tool := range []string{"ip", "nft", "haproxy"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return "needs " + strings.Join(missing, ", ") + " in PATH"
	}
	return ""
}

// RequireRoot skips tb with one line when RootProblem reports a problem, or fails it
// when RAFTVIP_E2E=require.
func RequireRoot(tb interface {
	Helper()
	Skip(...any)
	Fatal(...any)
}) {
	tb.Helper()
	if p := RootProblem(); p != "" {
		if os.Getenv("RAFTVIP_E2E") == "require" {
			tb.Fatal("e2e: " + p + ", and RAFTVIP_E2E=require is set")
		}
		tb.Skip("e2e: " + p + "; skipping (RAFTVIP_E2E=require turns this into a failure)")
	}
}
