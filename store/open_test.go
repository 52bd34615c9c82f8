package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func mustOpen(t *testing.T, dir, node string) *Stores {
	t.Helper()
	s, err := Open(dir, node, nil)
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", dir, node, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenFresh(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	s := mustOpen(t, dir, "lb1")

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode %o, want 700", perm)
	}
	b, err := os.ReadFile(filepath.Join(dir, "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !validIDPattern.MatchString(s.ID) {
		t.Errorf("ID = %q, want 32 lowercase hex digits", s.ID)
	}
	if want := `{"format":1,"node":"lb1","id":"` + s.ID + `"}` + "\n"; string(b) != want {
		t.Errorf("marker = %q, want %q", b, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "node.json.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary marker left behind: %v", err)
	}
	if has, err := s.HasState(); err != nil || has {
		t.Errorf("HasState() = %v, %v; want false, nil", has, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, "lb1")
	entry := &raft.Log{Index: 1, Term: 5, Type: raft.LogCommand, Data: EncodeClaim("lb1", 5, t0)}
	if err := s.Log.StoreLog(entry); err != nil {
		t.Fatal(err)
	}
	if err := s.Stable.SetUint64([]byte("CurrentTerm"), 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, dir, "lb1")
	if has, err := s.HasState(); err != nil || !has {
		t.Errorf("HasState() = %v, %v; want true, nil", has, err)
	}
	var got raft.Log
	if err := s.Log.GetLog(1, &got); err != nil {
		t.Fatalf("GetLog(1): %v", err)
	}
	if got.Term != 5 || !bytes.Equal(got.Data, entry.Data) {
		t.Errorf("GetLog(1) = term %d data %q, want term 5 data %q", got.Term, got.Data, entry.Data)
	}
	if term, err := s.Stable.GetUint64([]byte("CurrentTerm")); err != nil || term != 5 {
		t.Errorf("CurrentTerm = %d, %v; want 5", term, err)
	}
}

var validIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// reopen closes s and opens its directory again as node.
func reopen(t *testing.T, s *Stores, dir, node string) *Stores {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return mustOpen(t, dir, node)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenInstanceID(t *testing.T) {
	t.Run("reopen keeps the id", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, "lb1")
		id := s.ID
		marker := readFile(t, filepath.Join(dir, "node.json"))
		s = reopen(t, s, dir, "lb1")
		if s.ID != id {
			t.Errorf("ID after reopen = %q, want %q", s.ID, id)
		}
		if again := readFile(t, filepath.Join(dir, "node.json")); again != marker {
			t.Errorf("reopen rewrote the marker: %q, was %q", again, marker)
		}
	})
	t.Run("a marker without id gets one and keeps it", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, "lb1")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		old := `{"format":1,"node":"lb1"}` + "\n" // as raftvip wrote it before instance ids
		if err := os.WriteFile(filepath.Join(dir, "node.json"), []byte(old), 0o600); err != nil {
			t.Fatal(err)
		}
		s = mustOpen(t, dir, "lb1")
		id := s.ID
		if !validIDPattern.MatchString(id) {
			t.Fatalf("ID = %q, want 32 lowercase hex digits", id)
		}
		if got, want := readFile(t, filepath.Join(dir, "node.json")), `{"format":1,"node":"lb1","id":"`+id+`"}`+"\n"; got != want {
			t.Errorf("marker = %q, want %q", got, want)
		}
		if _, err := os.Stat(filepath.Join(dir, "node.json.tmp")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary marker left behind: %v", err)
		}
		if s = reopen(t, s, dir, "lb1"); s.ID != id {
			t.Errorf("ID after reopen = %q, want %q", s.ID, id)
		}
	})
	t.Run("a wiped directory gets a new id", func(t *testing.T) {
		dir := t.TempDir()
		s := mustOpen(t, dir, "lb1")
		id := s.ID
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if s = mustOpen(t, dir, "lb1"); s.ID == id || !validIDPattern.MatchString(s.ID) {
			t.Errorf("ID after wipe = %q, want a new id (was %q)", s.ID, id)
		}
	})
	t.Run("ids differ between directories", func(t *testing.T) {
		a, b := mustOpen(t, t.TempDir(), "lb1"), mustOpen(t, t.TempDir(), "lb1")
		if a.ID == b.ID {
			t.Errorf("two directories share the id %q", a.ID)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	// Each setup prepares dir, which Open then opens as lb1.
	openAs := func(node string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := mustOpen(t, dir, node).Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	write := func(name, content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	garbage := strings.Repeat("this is not a bolt database\n", 1000)
	tests := []struct {
		name     string
		setup    []func(t *testing.T, dir string)
		want     error
		mentions []string
	}{
		{"foreign", []func(*testing.T, string){openAs("lb2")}, ErrForeignDataDir,
			[]string{"lb2", "lb1", "node.data_dir", "wipe"}},
		{"garbage raft.db", []func(*testing.T, string){openAs("lb1"), write("raft.db", garbage)}, ErrCorruptDataDir,
			[]string{"raft.db", "wipe"}},
		{"short garbage raft.db", []func(*testing.T, string){openAs("lb1"), write("raft.db", "x")}, ErrCorruptDataDir,
			[]string{"raft.db", "wipe"}},
		{"empty raft.db", []func(*testing.T, string){openAs("lb1"), write("raft.db", "")}, ErrCorruptDataDir,
			[]string{"raft.db", "empty", "wipe"}},
		{"raft.db without marker", []func(*testing.T, string){openAs("lb1"), remove("node.json")}, ErrCorruptDataDir,
			[]string{"raft.db", "node.json", "wipe"}},
		{"marker without raft.db", []func(*testing.T, string){openAs("lb1"), remove("raft.db")}, ErrCorruptDataDir,
			[]string{"raft.db", "missing", "wipe"}},
		{"garbage marker", []func(*testing.T, string){openAs("lb1"), write("node.json", "lb1")}, ErrCorruptDataDir,
			[]string{"node.json", "wipe"}},
		{"empty marker", []func(*testing.T, string){write("node.json", "")}, ErrCorruptDataDir,
			[]string{"node.json", "wipe"}},
		{"marker of a newer format", []func(*testing.T, string){openAs("lb1"), write("node.json", `{"format":2,"node":"lb1"}`)},
			ErrCorruptDataDir, []string{"format 2", "wipe"}},
		{"marker naming no node", []func(*testing.T, string){write("node.json", `{"format":1}`)}, ErrCorruptDataDir,
			[]string{"no node", "wipe"}},
		{"marker with a short id", []func(*testing.T, string){openAs("lb1"), write("node.json", `{"format":1,"node":"lb1","id":"abc"}`)},
			ErrCorruptDataDir, []string{`id "abc"`, "hex", "wipe"}},
		{"marker with an id not in hex", []func(*testing.T, string){openAs("lb1"),
			write("node.json", `{"format":1,"node":"lb1","id":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}`)},
			ErrCorruptDataDir, []string{"hex", "wipe"}},
		{"foreign marker without id is left alone", []func(*testing.T, string){openAs("lb2"), write("node.json", `{"format":1,"node":"lb2"}`)},
			ErrForeignDataDir, []string{"lb2", "lb1"}},
		{"marker without id and raft.db missing is left alone", []func(*testing.T, string){openAs("lb1"), remove("raft.db"),
			write("node.json", `{"format":1,"node":"lb1"}`)}, ErrCorruptDataDir, []string{"raft.db", "missing"}},
		{"unreadable marker", []func(*testing.T, string){func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "node.json"), 0o700); err != nil {
				t.Fatal(err)
			}
		}}, ErrCorruptDataDir, []string{"node.json", "wipe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, setup := range tt.setup {
				setup(t, dir)
			}
			before := listDir(t, dir)
			s, err := Open(dir, "lb1", nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want %v", tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v; want an error wrapping %v", err, tt.want)
			}
			for _, m := range append([]string{"store: open " + dir}, tt.mentions...) {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if after := listDir(t, dir); !slices.Equal(after, before) {
				t.Errorf("failed Open changed the directory: %v, was %v", after, before)
			}
		})
	}
}

func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, "lb1")
	// bolt's flock belongs to the open file description, so a second Open in this
	// process waits for the lock like another process would, and gives up after 1 s.
	s2, err := Open(dir, "lb1", nil)
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded, want ErrDataDirInUse")
	}
	if !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("second Open: %v; want an error wrapping ErrDataDirInUse", err)
	}
	for _, m := range []string{dir, "raft.db", "node.data_dir"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir, "lb1") // the lock is gone with the first holder
}

func TestOpenEmptyNode(t *testing.T) {
	if s, err := Open(t.TempDir(), "", nil); err == nil {
		s.Close()
		t.Fatal("Open with an empty node name succeeded")
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		names = append(names, rel+" "+fi.Mode().String()+" "+fmt.Sprint(fi.Size())+" "+fi.ModTime().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}
