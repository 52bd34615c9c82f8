package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Errors Open returns; each is wrapped in a message naming the directory and the fix.
var (
	// ErrForeignDataDir: the data directory was created by another node.
	ErrForeignDataDir = errors.New("data directory belongs to another node")
	// ErrCorruptDataDir: the data directory is damaged or incomplete.
	ErrCorruptDataDir = errors.New("data directory is corrupt")
	// ErrDataDirInUse: another process has the data directory open.
	ErrDataDirInUse = errors.New("data directory is in use")
)

const (
	markerFile   = "node.json" // names the node the directory belongs to, and its instance id
	markerFormat = 1
	idBytes      = 16              // random bytes in an instance id: 32 hex digits
	boltFile     = "raft.db"       // Raft log and stable store
	logCacheSize = 512             // recent log entries kept in memory
	snapRetain   = 2               // snapshots kept on disk
	lockTimeout  = 1 * time.Second // wait for bolt's file lock before giving up
)

// marker is the content of dir/node.json:
//
//	{"format":1,"node":"lb1","id":"9f86d081884c7d659a2feaa0c55ad015"}
//
// "id" is the directory's instance id, 32 lowercase hex digits. Markers written before
// instance ids existed have none; Open adds one, keeping format 1 so that an older
// raftvip still reads the marker.
type marker struct {
	Format int    `json:"format"`
	Node   string `json:"node"`
	ID     string `json:"id,omitempty"`
}

// Stores are the on-disk stores hashicorp/raft runs on, all in one data directory.
type Stores struct {
	Log       *VouchLog          // raft.db through a LogCache of the last 512 entries, with what this node vouches for
	Stable    raft.StableStore   // raft.db
	Snapshots raft.SnapshotStore // dir/snapshots, the last 2 kept

	// ID is the data directory's instance id: 32 hex digits drawn from crypto/rand
	// when the directory was first used, kept for as long as the directory lives. A
	// wiped directory gets a new one, which tells the cluster this node lost its state.
	ID string

	bolt *raftboltdb.BoltStore
}

// Open opens the data directory dir of node, creating it (mode 0700) if missing.
// The directory is tied to node by the marker file node.json, written on first use
// with a new instance id (Stores.ID); a marker from before instance ids is given one,
// written back atomically. Errors wrap ErrForeignDataDir (the marker names another
// node), ErrCorruptDataDir (unreadable marker or a malformed id in it, raft.db without
// marker, marker with raft.db missing or empty, raft.db not a bolt database) or
// ErrDataDirInUse (another process holds raft.db's lock for more than a second).
// logger receives the snapshot store's messages; nil discards them.
func Open(dir, node string, logger hclog.Logger) (*Stores, error) {
	if node == "" {
		return nil, fmt.Errorf("store: open %s: empty node name", dir)
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	markerPath := filepath.Join(dir, markerFile)
	boltPath := filepath.Join(dir, boltFile)

	m, hasMarker, err := readMarker(markerPath)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w: marker %s: %v; wipe the directory to rejoin as a new member",
			dir, ErrCorruptDataDir, markerFile, err)
	}
	fi, err := os.Stat(boltPath)
	hasBolt := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	switch {
	case hasMarker && m.Node != node:
		return nil, fmt.Errorf("store: open %s: %w: %s names node %s, this node is %s;"+
			" point node.data_dir at %s's own directory, or wipe this one to rejoin as a new member",
			dir, ErrForeignDataDir, markerFile, m.Node, node, node)
	case hasMarker && !hasBolt:
		return nil, fmt.Errorf("store: open %s: %w: %s is missing, so this node's Raft log and vote are lost;"+
			" wipe the directory to rejoin as a new member", dir, ErrCorruptDataDir, boltFile)
	case hasMarker && fi.Size() == 0:
		// bolt would take an empty file for a new database: a silent fresh start.
		return nil, fmt.Errorf("store: open %s: %w: %s is empty, so this node's Raft log and vote are lost;"+
			" wipe the directory to rejoin as a new member", dir, ErrCorruptDataDir, boltFile)
	case !hasMarker && hasBolt:
		return nil, fmt.Errorf("store: open %s: %w: %s exists but %s does not, so it is unknown"+
			" whose log it is; wipe the directory to rejoin as a new member", dir, ErrCorruptDataDir, boltFile, markerFile)
	}

	// Bolt is opened (and on a fresh directory created) before the marker is written,
	// so a crash in between leaves raft.db without marker: an error, not a fresh start.
	bolt, err := raftboltdb.New(raftboltdb.Options{
		Path:        boltPath,
		BoltOptions: &bbolt.Options{Timeout: lockTimeout},
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("store: open %s: %w: another process holds the lock on %s;"+
			" stop the other raftvip agent using it, or give this one its own node.data_dir",
			dir, ErrDataDirInUse, boltFile)
	case isOSError(err): // permissions, disk full, I/O error: nothing to wipe
		return nil, fmt.Errorf("store: open %s: %s: %w", dir, boltFile, err)
	case err != nil:
		return nil, fmt.Errorf("store: open %s: %w: %s: %v; wipe the directory to rejoin as a new member",
			dir, ErrCorruptDataDir, boltFile, err)
	}
	s := &Stores{Stable: bolt, ID: m.ID, bolt: bolt}
	if !hasMarker || m.ID == "" {
		// Written with raft.db's lock held, so no other agent rewrites it meanwhile.
		if s.ID, err = newID(); err != nil {
			s.Close()
			return nil, fmt.Errorf("store: open %s: instance id: %w", dir, err)
		}
		if err := writeMarker(markerPath, marker{Format: markerFormat, Node: node, ID: s.ID}); err != nil {
			s.Close()
			return nil, fmt.Errorf("store: open %s: write marker: %w", dir, err)
		}
	}
	cache, err := raft.NewLogCache(logCacheSize, bolt)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if s.Snapshots, err = raft.NewFileSnapshotStoreWithLogger(dir, snapRetain, logger); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: snapshots: %w", dir, err)
	}
	if s.Log, err = NewVouchLog(cache, s.Snapshots); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w: %v; wipe the directory to rejoin as a new member", dir, ErrCorruptDataDir, err)
	}
	return s, nil
}

// HasState reports whether the stores hold any Raft state (a term, log entries or a
// snapshot), i.e. whether this node has been part of a cluster before.
func (s *Stores) HasState() (bool, error) {
	ok, err := raft.HasExistingState(s.Log, s.Stable, s.Snapshots)
	if err != nil {
		return false, fmt.Errorf("store: read existing state: %w", err)
	}
	return ok, nil
}

// Close closes raft.db, releasing its lock. Calling it again does nothing.
func (s *Stores) Close() error {
	if s.bolt == nil {
		return nil
	}
	err := s.bolt.Close()
	s.bolt = nil
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// isOSError reports whether err came from the operating system rather than from
// bolt reading the file's content.
func isOSError(err error) bool {
	var pathErr *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pathErr) || errors.As(err, &errno)
}

// readMarker reads the marker at path; ok is false if there is none.
func readMarker(path string) (m marker, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return marker{}, false, nil
	}
	if err != nil {
		return marker{}, false, fmt.Errorf("unreadable: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return marker{}, false, fmt.Errorf("not a raftvip marker: %v", err)
	}
	if m.Format != markerFormat {
		return marker{}, false, fmt.Errorf("format %d, expected %d (a newer raftvip may have written it)",
			m.Format, markerFormat)
	}
	if m.Node == "" {
		return marker{}, false, errors.New("names no node")
	}
	if m.ID != "" && !validID(m.ID) {
		return marker{}, false, fmt.Errorf("id %q is not %d lowercase hex digits", m.ID, 2*idBytes)
	}
	return m, true, nil
}

// newID returns a new instance id: idBytes random bytes in lowercase hex.
func newID() (string, error) {
	b := make([]byte, idBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// validID reports whether id looks like one newID returns.
func validID(id string) bool {
	if len(id) != 2*idBytes {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// writeMarker writes m to path atomically: a temporary file, synced, then renamed,
// then the directory synced.
func writeMarker(path string, m marker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
