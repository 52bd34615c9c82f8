package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
)

// The ownership of VIP groups (DESIGN §9.2): the leader assigns a group to a node with
// an assign record; the node, or the leader for it, ends the assignment with a release
// record. Ownership applies those records in log order and keeps, per group, the
// current assignment, the one it replaced, and the wait W(g) the current assignee owes
// before it may hold: the longest lease any earlier assignee could still have.
//
// The same rules run over two different logs: the FSM applies committed entries, and
// every voter applies its own log, committed or not, to know its cur_v(g), the
// assignment it vouches for (§9.3). So Ownership is pure: no I/O, no clock.

// KernelExpirySlack covers the kernel's late firing of address expiry (IPv4 rounds
// the check up by up to a quarter second) plus scheduling. An assignee under strict
// fencing owes its address lifetime plus this slack.
const KernelExpirySlack = 500 * time.Millisecond

// Assignment is one assign record of a group, with the settings of its assignee at
// assignment time: a reload does not change them for this assignment.
type Assignment struct {
	Index       uint64        `json:"index"`                 // log index of the assign record; 0: none
	Node        string        `json:"node,omitempty"`        // the assignee
	Incarnation string        `json:"incarnation,omitempty"` // the assignee's boot id: a restarted node is another incarnation
	Lease       time.Duration `json:"lease,omitempty"`       // L: the assignee's lease
	Delta       time.Duration `json:"delta,omitempty"`       // δ: its margin for clock-rate drift and the delay of a removal
	Lifetime    time.Duration `json:"lifetime,omitempty"`    // its address lifetime
	Strict      bool          `json:"strict,omitempty"`      // fencing: strict, so a frozen assignee's kernel must have let go too
	// Reason is why the leader made the assignment, in its words; for status and
	// metrics only: no rule reads it.
	Reason string `json:"reason,omitempty"`
}

// Owes is how long past the commit of the next assignment this assignment's holder
// may still hold the group: its lease plus δ. Under strict fencing, a holder frozen
// for good must be out of the network too, by its kernel: it may have refreshed its
// addresses' lifetime just before its lease ended, so it owes the lifetime and the
// kernel's expiry slack on top of the lease.
func (a Assignment) Owes() time.Duration {
	d := a.Lease + a.Delta
	if a.Strict {
		d += a.Lifetime + KernelExpirySlack
	}
	return d
}

// Release is one release record: Node, in Incarnation, gives up the assignment at
// AssignIndex. Held is true only if it had finished its wait and held the group, and
// removed the addresses before it sent the release.
type Release struct {
	Node        string
	Incarnation string
	AssignIndex uint64
	Held        bool
}

// GroupState is the ownership of one group.
type GroupState struct {
	Current Assignment // Index 0: never assigned
	// Ended is true once a release ended Current: the group is assigned to nobody.
	// EndedHeld says that release was a held one.
	Ended, EndedHeld bool
	// Wait is W(g), what Current's assignee owes before it may hold: 0 when the
	// assignment before it ended with a held release, or when there was none.
	Wait time.Duration
	// Previous is the assignment Current replaced (Index 0: none), and PreviousEnded
	// whether a release of it was accepted; a release of it is accepted once.
	Previous      Assignment
	PreviousEnded bool
	// owed is the largest Owes over the assignments since the last one that ended
	// with a held release, Current excluded.
	owed time.Duration
}

// Active reports whether the group is assigned to a node now.
func (s GroupState) Active() bool { return s.Current.Index != 0 && !s.Ended }

// Immediate reports whether Current's assignee may hold as soon as it has a lease:
// the assignment before it ended with a held release, or there was none.
func (s GroupState) Immediate() bool { return s.Wait == 0 }

// Ownership is the state of every group, built by applying assign and release records
// in log order. The zero value is empty and ready to use. It is not safe for
// concurrent use; callers lock.
type Ownership struct {
	groups map[string]GroupState
}

// ErrRejected is what Ownership returns for a record its rules do not accept; the
// state is unchanged.
var ErrRejected = errors.New("ownership record rejected")

// Group returns the state of group g.
func (o *Ownership) Group(g string) GroupState { return o.groups[g] }

// Groups returns the state of every group that was ever assigned.
func (o *Ownership) Groups() map[string]GroupState { return maps.Clone(o.groups) }

// Clone returns an independent copy.
func (o *Ownership) Clone() *Ownership { return &Ownership{groups: maps.Clone(o.groups)} }

// Assign applies assign{g, a} at log index a.Index: a replaces the group's current
// assignment, whatever it is, and owes what every assignment since the last held
// release owes. An index at or below the current one is rejected (entries apply in log
// order).
func (o *Ownership) Assign(g string, a Assignment) error {
	s := o.groups[g]
	switch {
	case a.Index == 0 || a.Index <= s.Current.Index:
		return fmt.Errorf("%w: assign of %s at index %d after index %d", ErrRejected, g, a.Index, s.Current.Index)
	case a.Node == "" || a.Incarnation == "":
		return fmt.Errorf("%w: assign of %s names no node or incarnation", ErrRejected, g)
	}
	if s.Current.Index != 0 {
		if s.Ended && s.EndedHeld {
			s.owed = 0 // its holder waited out everything before it, then let go
		} else {
			s.owed = max(s.owed, s.Current.Owes())
		}
	}
	s.Previous, s.PreviousEnded = s.Current, s.Ended
	s.Current, s.Ended, s.EndedHeld = a, false, false
	s.Wait = s.owed
	o.set(g, s)
	return nil
}

// End applies a release of group g. It is accepted once, for the current assignment or
// for the one the current assignment just replaced, when it names that assignment's
// node and incarnation; anything else is rejected.
//
// A held release of the current assignment lets the next assignee hold at once. A
// held release of the replaced assignment does so for the current one, which then
// owes nothing.
func (o *Ownership) End(g string, r Release) error {
	s, ok := o.groups[g]
	matches := func(a Assignment) bool {
		return a.Index != 0 && a.Index == r.AssignIndex && a.Node == r.Node && a.Incarnation == r.Incarnation
	}
	switch {
	case !ok:
		return fmt.Errorf("%w: release of %s, which was never assigned", ErrRejected, g)
	case matches(s.Current) && !s.Ended:
		s.Ended, s.EndedHeld = true, r.Held
	case matches(s.Previous) && !s.PreviousEnded:
		s.PreviousEnded = true
		if r.Held {
			s.Wait, s.owed = 0, 0
		}
	default:
		return fmt.Errorf("%w: release of %s by %s for assignment %d matches no assignment still open", ErrRejected, g, r.Node, r.AssignIndex)
	}
	o.set(g, s)
	return nil
}

// ownershipJSON is how a snapshot stores Ownership: every group's state, the
// running wait owed included.
type groupJSON struct {
	Current       Assignment    `json:"current"`
	Ended         bool          `json:"ended,omitempty"`
	EndedHeld     bool          `json:"ended_held,omitempty"`
	Wait          time.Duration `json:"wait"`
	Previous      Assignment    `json:"previous"`
	PreviousEnded bool          `json:"previous_ended,omitempty"`
	Owed          time.Duration `json:"owed"`
}

// MarshalJSON writes every group's state.
func (o *Ownership) MarshalJSON() ([]byte, error) {
	out := make(map[string]groupJSON, len(o.groups))
	for g, s := range o.groups {
		out[g] = groupJSON{s.Current, s.Ended, s.EndedHeld, s.Wait, s.Previous, s.PreviousEnded, s.owed}
	}
	return json.Marshal(out)
}

// UnmarshalJSON replaces the state with what MarshalJSON wrote.
func (o *Ownership) UnmarshalJSON(b []byte) error {
	var in map[string]groupJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	o.groups = make(map[string]GroupState, len(in))
	for g, s := range in {
		if g == "" {
			return errors.New("a group without a name")
		}
		o.groups[g] = GroupState{Current: s.Current, Ended: s.Ended, EndedHeld: s.EndedHeld, Wait: s.Wait,
			Previous: s.Previous, PreviousEnded: s.PreviousEnded, owed: s.Owed}
	}
	return nil
}

func (o *Ownership) set(g string, s GroupState) {
	if o.groups == nil {
		o.groups = map[string]GroupState{}
	}
	o.groups[g] = s
}
