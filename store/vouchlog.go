package store

import (
	"fmt"
	"slices"
	"sync"

	"github.com/hashicorp/raft"
)

// VouchLog is the Raft log store with, kept beside it, what this node vouches for as a
// voter (DESIGN §9.3): every group's latest assignment in its own log, committed or
// not, with the ownership rules applied (a release that ends it counts), and its
// latest configuration. The FSM alone is not enough: it sees committed entries only.
//
// It is updated inside StoreLogs, so before Raft's AppendEntries reply leaves; a
// truncated tail (DeleteRange after a conflict) takes it back; a compacted head moves
// its base forward; and at start, or when Raft installed a snapshot the log does not
// cover, it is rebuilt from the latest snapshot and the log after it. Its methods are
// safe for concurrent use.
type VouchLog struct {
	raft.LogStore
	snaps raft.SnapshotStore

	// wmu serialises the writers (StoreLogs, DeleteRange: Raft calls them from one
	// goroutine anyway). mu guards what readers see; a writer holds it only to change
	// that, never across disk I/O, so an answer to a renewal never waits on an fsync.
	wmu sync.Mutex
	mu  sync.RWMutex
	// base is the ownership as of baseIndex, and baseCfg the configuration then: the
	// latest snapshot's, moved forward as Raft compacts the log.
	base      *Ownership
	baseIndex uint64
	baseCfg   LogConfiguration
	own       *Ownership         // base with the log's entries after baseIndex applied
	last      uint64             // the last index applied to own
	cfgs      []LogConfiguration // the configuration entries after baseIndex, in order

	onChange func() // called after every change, outside the lock
}

// OnChange sets f to be called after every change of the log (it must not block).
func (v *VouchLog) OnChange(f func()) {
	v.mu.Lock()
	v.onChange = f
	v.mu.Unlock()
}

// changed calls onChange. v.mu is not held.
func (v *VouchLog) changed() {
	v.mu.RLock()
	f := v.onChange
	v.mu.RUnlock()
	if f != nil {
		f()
	}
}

// LogConfiguration is a configuration entry of the log: its index and term, and its
// voters, sorted.
type LogConfiguration struct {
	Index, Term uint64
	Voters      []string
}

// NewVouchLog wraps inner; snaps holds the snapshots Raft takes and installs.
func NewVouchLog(inner raft.LogStore, snaps raft.SnapshotStore) (*VouchLog, error) {
	v := &VouchLog{LogStore: inner, snaps: snaps}
	if err := v.reload(); err != nil {
		return nil, err
	}
	return v, nil
}

// reload rebuilds everything from the latest snapshot and the log after it. v.mu and
// v.wmu are held or v is new.
func (v *VouchLog) reload() error {
	v.base, v.baseIndex, v.baseCfg = &Ownership{}, 0, LogConfiguration{}
	metas, err := v.snaps.List()
	if err != nil {
		return fmt.Errorf("store: vouch log: list snapshots: %w", err)
	}
	if len(metas) > 0 {
		meta, rc, err := v.snaps.Open(metas[0].ID)
		if err != nil {
			return fmt.Errorf("store: vouch log: open snapshot %s: %w", metas[0].ID, err)
		}
		f := NewFSM(0, nil)
		err = f.Restore(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("store: vouch log: snapshot %s: %w", meta.ID, err)
		}
		v.base, v.baseIndex = f.Ownership(), meta.Index
		v.baseCfg = LogConfiguration{Index: meta.ConfigurationIndex, Voters: voters(meta.Configuration)}
	}
	return v.rebuild()
}

func voters(c raft.Configuration) []string {
	var out []string
	for _, s := range c.Servers {
		if s.Suffrage == raft.Voter {
			out = append(out, string(s.ID))
		}
	}
	slices.Sort(out)
	return out
}

// rebuild applies the log after baseIndex to a copy of base. v.mu and v.wmu are held
// or v is new.
func (v *VouchLog) rebuild() error { return v.rebuildTo(0) }

// rebuildTo is rebuild up to index upTo at most (0: the whole log).
func (v *VouchLog) rebuildTo(upTo uint64) error {
	v.own, v.last, v.cfgs = v.base.Clone(), v.baseIndex, nil
	first, err := v.LogStore.FirstIndex()
	if err != nil {
		return fmt.Errorf("store: vouch log: %w", err)
	}
	last, err := v.LogStore.LastIndex()
	if err != nil {
		return fmt.Errorf("store: vouch log: %w", err)
	}
	if upTo != 0 {
		last = min(last, upTo)
	}
	for i := max(first, v.baseIndex+1); i <= last && i != 0; i++ {
		var l raft.Log
		if err := v.LogStore.GetLog(i, &l); err != nil {
			return fmt.Errorf("store: vouch log: read entry %d: %w", i, err)
		}
		v.cfgs = applyEntry(v.own, v.cfgs, &l)
		v.last = i
	}
	return nil
}

// applyEntry takes one entry into own, and a configuration entry into cfgs.
func applyEntry(own *Ownership, cfgs []LogConfiguration, l *raft.Log) []LogConfiguration {
	switch l.Type {
	case raft.LogConfiguration:
		c := raft.DecodeConfiguration(l.Data)
		return append(cfgs, LogConfiguration{Index: l.Index, Term: l.Term, Voters: voters(c)})
	case raft.LogCommand:
		r, err := decode(l.Data)
		if err != nil {
			return cfgs // the FSM reports it when it commits
		}
		r.Index = l.Index
		switch {
		case r.Kind == KindAssign:
			_ = own.Assign(r.Group, r.Assignment())
		case r.Group != "":
			_ = own.End(r.Group, r.Release())
		case r.Kind == KindClaim || r.Kind == KindRelease:
			applyLegacy(own, r) // a log from before groups, as the FSM reads it
		}
	}
	return cfgs
}

// StoreLog stores one entry, then takes it into account.
func (v *VouchLog) StoreLog(l *raft.Log) error { return v.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores entries, then takes them into account: what this node vouches for
// changes before Raft acknowledges them. Until it does, answers vouch as before the
// entries: safe, since no reply that counts them has left.
func (v *VouchLog) StoreLogs(logs []*raft.Log) error {
	defer v.changed()
	v.wmu.Lock()
	defer v.wmu.Unlock()
	if err := v.LogStore.StoreLogs(logs); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, l := range logs {
		if l.Index != v.last+1 {
			// Entries this log never had (Raft installed a snapshot), or an index
			// rewritten: start again from what is on disk.
			return v.reload()
		}
		v.cfgs = applyEntry(v.own, v.cfgs, l)
		v.last = l.Index
	}
	return nil
}

// DeleteRange deletes entries min to max. A deleted tail takes its assignments and
// configurations back with it, before the entries go; a deleted head (compaction
// after a snapshot) is folded into the base first.
func (v *VouchLog) DeleteRange(min, max uint64) error {
	defer v.changed()
	v.wmu.Lock()
	defer v.wmu.Unlock()
	// Only writers change the fields below, and this is the writer: it may read them
	// without mu.
	base, baseIndex, baseCfg := v.base, v.baseIndex, v.baseCfg
	folded := true
	if min <= baseIndex+1 {
		base = base.Clone()
		for i := baseIndex + 1; i <= max && i <= v.last; i++ {
			var l raft.Log
			if err := v.LogStore.GetLog(i, &l); err != nil {
				folded = false
				break
			}
			if cfgs := applyEntry(base, nil, &l); len(cfgs) > 0 {
				baseCfg = cfgs[0]
			}
			baseIndex = i
		}
	}
	tail := folded && max <= v.last && min > baseIndex
	if tail {
		// Stop vouching for the tail's assignments before they are gone.
		v.mu.Lock()
		err := v.rebuildTo(min - 1)
		v.mu.Unlock()
		if err != nil {
			return err
		}
	}
	if err := v.LogStore.DeleteRange(min, max); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.base, v.baseIndex, v.baseCfg = base, baseIndex, baseCfg
	switch {
	case !folded || max > v.last:
		return v.reload() // entries this log never had: a snapshot covers them
	case tail:
		return nil // rebuilt to min-1 above, which is now the end of the log
	}
	v.cfgs = slices.DeleteFunc(v.cfgs, func(c LogConfiguration) bool { return c.Index <= v.baseIndex })
	return nil
}

// Group returns group g's latest assignment in this node's log, committed or not.
func (v *VouchLog) Group(g string) GroupState {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.own.Group(g)
}

// Ownership returns a copy of every group's latest state in the log.
func (v *VouchLog) Ownership() *Ownership {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.own.Clone()
}

// Configuration returns the latest configuration in this node's log, committed or not.
func (v *VouchLog) Configuration() LogConfiguration {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if n := len(v.cfgs); n > 0 {
		return v.cfgs[n-1]
	}
	return v.baseCfg
}
