package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// DefaultHistoryLimit is the number of records History keeps when NewFSM is given
// a limit ≤ 0.
const DefaultHistoryLimit = 64

// snapshotVersion is the version of the snapshot format Persist writes. Restore
// also reads version 1, written before drain entries existed.
const snapshotVersion = 3

// FSM is the raft.FSM of raftvip: the latest claim or release of the VIP, the set of
// drained nodes, and a bounded history of claims, releases and drains. Apply does no
// I/O and reads no clock, so every node computes the same state from the same log.
// Its methods are safe for concurrent use.
type FSM struct {
	notify func()

	mu      sync.RWMutex
	last    Record // the latest claim or release; drains never replace it
	hasLast bool
	drained map[string]bool // the drained nodes; only true values are stored
	history ring
	own     Ownership // the groups' assignments (DESIGN §9.2)
	unknown error     // the first entry of a type this version does not know, if any
}

var _ raft.FSM = (*FSM)(nil)

// NewFSM returns an empty FSM that keeps the last historyLimit records
// (DefaultHistoryLimit if historyLimit ≤ 0). notify, if not nil, is called after
// every entry applied and every snapshot restored; it must not block.
func NewFSM(historyLimit int, notify func()) *FSM {
	if historyLimit <= 0 {
		historyLimit = DefaultHistoryLimit
	}
	if notify == nil {
		notify = func() {}
	}
	return &FSM{notify: notify, drained: map[string]bool{}, history: ring{limit: historyLimit}}
}

// Apply applies one committed log entry. A claim or release becomes Last; a drain
// entry drains or undrains its node and leaves Last alone. Every accepted entry is
// added to History. Apply returns an Applied, or an error value wrapping
// ErrUnknownEntry or ErrBadEntry, in which case the state is unchanged.
func (f *FSM) Apply(l *raft.Log) interface{} {
	r, err := decode(l.Data)
	if err != nil {
		err = fmt.Errorf("store: apply entry %d: %w", l.Index, err)
		if errors.Is(err, ErrUnknownEntry) {
			f.mu.Lock()
			if f.unknown == nil {
				f.unknown = err
			}
			f.mu.Unlock()
			f.notify()
		}
		return err
	}
	r.Index = l.Index

	f.mu.Lock()
	res := Applied{Previous: f.last, HadPrevious: f.hasLast}
	switch {
	case r.Kind == KindAssign:
		a := r.Assignment()
		err = f.own.Assign(r.Group, a)
	case r.Group != "": // a group's release
		err = f.own.End(r.Group, r.Release())
	case r.Kind == KindDrain && r.Drained:
		f.drained[r.Node] = true
	case r.Kind == KindDrain:
		delete(f.drained, r.Node)
	default: // a claim or release of the protocol where the leader held the VIP
		f.last, f.hasLast = r, true
		applyLegacy(&f.own, r)
	}
	if err == nil {
		f.history.push(r)
	}
	f.mu.Unlock()

	f.notify()
	if err != nil {
		return fmt.Errorf("store: apply entry %d: %w", l.Index, err)
	}
	return res
}

// LegacyIncarnation is the incarnation of the assignments Ownership reads from the
// claims of the protocol where the leader held the VIP: no agent runs as it, so none
// of them is ever held again (DESIGN §9.6).
const LegacyIncarnation = "leader-holds"

// legacy are the settings an old claim is read with: its holder's real lease is not in
// the record, so the next assignee waits out more than any profile's lease and a
// strict address lifetime.
var legacy = Assignment{Incarnation: LegacyIncarnation, Lease: time.Second, Lifetime: 2 * time.Second, Strict: true}

// applyLegacy reads an old claim as an assignment of the group "vip", and an old
// release (written after the VIP was removed) as its held release, into own. The FSM
// and the VouchLog both read old logs through it, so they owe the same waits.
func applyLegacy(own *Ownership, r Record) {
	switch r.Kind {
	case KindClaim:
		a := legacy
		a.Index, a.Node = r.Index, r.Node
		_ = own.Assign(LegacyGroup, a)
	case KindRelease:
		cur := own.Group(LegacyGroup).Current
		if cur.Incarnation == LegacyIncarnation && cur.Node == r.Node {
			_ = own.End(LegacyGroup, Release{Node: r.Node, Incarnation: LegacyIncarnation, AssignIndex: cur.Index, Held: true})
		}
	}
}

// PinnedTo returns the node an operator's transfer put group g on, while that
// assignment stands: a pinned group does not move back by preemption. "" if none.
func (f *FSM) PinnedTo(g string) string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	cur := f.own.Group(g)
	if !cur.Active() {
		return ""
	}
	for _, r := range f.history.records() {
		if r.Kind == KindAssign && r.Index == cur.Current.Index && strings.HasPrefix(r.Reason, OperatorTransfer) {
			return r.Node
		}
	}
	return ""
}

// OperatorTransfer starts the reason of an assignment an operator asked for.
const OperatorTransfer = "operator transfer"

// LegacyGroup is the group the old records belong to: the one a vip: block makes.
const LegacyGroup = "vip"

// Group returns the ownership of group g as the committed log has it.
func (f *FSM) Group(g string) GroupState {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.own.Group(g)
}

// Ownership returns a copy of every group's ownership.
func (f *FSM) Ownership() *Ownership {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.own.Clone()
}

// Unknown returns the error of the first entry of a type this version does not know,
// or nil: a node that has seen one no longer has the state its peers have, and must
// not hold anything.
func (f *FSM) Unknown() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.unknown
}

// Applied is what Apply returns for an entry it accepted: the ownership record (the
// latest claim or release) that was last before it; drain entries in between do not
// count. Raft applies entries in log order on every node, so for a claim this is
// exactly the record the claim follows, which tells a new leader whether the previous
// holder released the VIP. The claim thereby doubles as the leader's barrier.
type Applied struct {
	Previous    Record
	HadPrevious bool
}

// Last returns the most recent claim or release, and false if there is none yet.
func (f *FSM) Last() (Record, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.last, f.hasLast
}

// History returns the recorded claims, releases and drains, oldest first.
func (f *FSM) History() []Record {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.history.records()
}

// Pinned returns the node an operator transfer pinned the VIP to, or "" if there is
// no pin. It is derived from History: the latest release pins the VIP on its hand-off
// target if it carries the pin flag and names a target, and every claim after it is by
// that target. Any other release, or a claim by another node, ends the pin; drains do
// not matter. History, and so the pin, survives snapshots; a pin whose release has
// aged out of History is forgotten.
func (f *FSM) Pinned() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	recs := f.history.records()
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r.Kind != KindRelease {
			continue
		}
		if !r.Pin || r.Handoff == "" {
			return ""
		}
		for _, c := range recs[i+1:] {
			if c.Kind == KindClaim && c.Node != r.Handoff {
				return ""
			}
		}
		return r.Handoff
	}
	return ""
}

// Drained reports whether node is drained: the latest drain entry for it drained it.
func (f *FSM) Drained(node string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.drained[node]
}

// DrainedNodes returns the drained nodes, sorted; empty (not nil) if there are none.
func (f *FSM) DrainedNodes() []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.drainedNodes()
}

// drainedNodes is DrainedNodes with f.mu held.
func (f *FSM) drainedNodes() []string {
	out := make([]string, 0, len(f.drained))
	for n := range f.drained {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// snapshot is the JSON document a snapshot holds:
//
//	{"version":3,"last":{…}|null,"history":[{…},…],"drained":["lb1",…],"groups":{…}}
//
// Records are written as Record marshals them, so a release keeps its "pin" and
// Pinned reads the same after a restore. "drained" lists the drained nodes, sorted.
// Version 1, written before drain entries existed, has no "drained": restoring it
// leaves no node drained. Version 2, written before groups, has no "groups": its
// last claim or release becomes the ownership of the group "vip", as its records
// would have.
type snapshot struct {
	Version int        `json:"version"`
	Last    *Record    `json:"last"`
	History []Record   `json:"history"`
	Drained []string   `json:"drained"`
	Groups  *Ownership `json:"groups,omitempty"` // version 3
}

// Snapshot copies the state (a few dozen records and names) for Persist to write.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := &fsmSnapshot{snapshot{
		Version: snapshotVersion, History: f.history.records(), Drained: f.drainedNodes(), Groups: f.own.Clone(),
	}}
	if f.hasLast {
		last := f.last
		s.s.Last = &last
	}
	return s, nil
}

// Restore replaces the whole state with the snapshot read from rc. On error the
// state is unchanged. The caller closes rc.
func (f *FSM) Restore(rc io.ReadCloser) error {
	var s snapshot
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("store: restore snapshot: %w", err)
	}
	switch s.Version {
	case 1:
		if s.Drained != nil {
			return fmt.Errorf("store: restore snapshot: format version 1 with a drained list (only version %d has one)",
				snapshotVersion)
		}
	case 2, snapshotVersion:
		if s.Drained == nil {
			return fmt.Errorf("store: restore snapshot: format version %d without its drained nodes", s.Version)
		}
		if s.Version == snapshotVersion && s.Groups == nil {
			return fmt.Errorf("store: restore snapshot: format version %d without its groups", s.Version)
		}
	default:
		return fmt.Errorf("store: restore snapshot: format version %d, this raftvip reads only versions 1 to %d"+
			" (a newer raftvip may have written it: upgrade this node)", s.Version, snapshotVersion)
	}
	if s.Last != nil && s.Last.Kind != KindClaim && s.Last.Kind != KindRelease {
		return fmt.Errorf("store: restore snapshot: last record is a %q, not a claim or release", s.Last.Kind)
	}
	drained := make(map[string]bool, len(s.Drained))
	for _, n := range s.Drained {
		if n == "" {
			return errors.New("store: restore snapshot: empty name among the drained nodes")
		}
		drained[n] = true
	}

	f.mu.Lock()
	f.last, f.hasLast = Record{}, false
	if s.Last != nil {
		f.last, f.hasLast = *s.Last, true
	}
	f.drained = drained
	f.own = Ownership{}
	if s.Groups != nil {
		f.own = *s.Groups.Clone()
	} else if f.hasLast {
		applyLegacy(&f.own, f.last)
	}
	f.history = ring{limit: f.history.limit}
	for _, r := range s.History {
		f.history.push(r)
	}
	f.mu.Unlock()

	f.notify()
	return nil
}

// fsmSnapshot is a point-in-time copy of the FSM's state.
type fsmSnapshot struct{ s snapshot }

// Persist writes the snapshot to sink as JSON.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("store: persist snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("store: persist snapshot: %w", err)
	}
	return nil
}

// Release does nothing: the snapshot holds no resources.
func (s *fsmSnapshot) Release() {}

// ring keeps the last limit records; pushing onto a full ring drops the oldest.
type ring struct {
	limit int
	buf   []Record // grows to limit, then is overwritten in place
	start int      // index in buf of the oldest record once buf is full
}

func (r *ring) push(rec Record) {
	if len(r.buf) < r.limit {
		r.buf = append(r.buf, rec)
		return
	}
	r.buf[r.start] = rec
	r.start = (r.start + 1) % r.limit
}

// records returns a copy of the records, oldest first.
func (r *ring) records() []Record {
	out := make([]Record, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}
