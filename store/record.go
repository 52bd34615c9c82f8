package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Entry types: the first byte of every log entry raftvip writes.
const (
	TypeClaim   byte = 1 // a node took the VIP for a term
	TypeRelease byte = 2 // a node gave the VIP up, maybe handing it to another
	TypeDrain   byte = 3 // an operator drained a node, or undrained it
	TypeAssign  byte = 4 // the leader assigned a group to a node (DESIGN §9.2)
	TypeLetGo   byte = 5 // an assignee let its group go: the release of an assignment
)

// Record kinds, the "kind" field of a Record.
const (
	KindClaim   = "claim"
	KindRelease = "release"
	KindDrain   = "drain"
	KindAssign  = "assign"
	// A group's release (type 5) is a KindRelease with its Group set; a release
	// without a group (type 2) is one of the protocol where the leader held the VIP.
)

// RecordVersion is the version of the group records (assign, release) this raftvip
// writes and reads, in their "v" field. A record of a higher version, written by a
// newer raftvip, is an unknown entry (ErrUnknownEntry), not a bad one: the agent
// stops holding and says that it must be upgraded.
const RecordVersion = 1

var (
	// ErrUnknownEntry is returned for a log entry whose type byte this version does
	// not know, typically one written by a newer raftvip.
	ErrUnknownEntry = errors.New("unknown log entry type")
	// ErrBadEntry is returned for a log entry of a known type whose payload is
	// invalid.
	ErrBadEntry = errors.New("bad log entry")
)

// Record is one claim or release of the VIP, or one drain or undrain of a node, as
// committed to the Raft log.
type Record struct {
	Kind    string    `json:"kind"`              // KindClaim, KindRelease or KindDrain
	Node    string    `json:"node"`              // the node that claims, releases, or is drained
	Term    uint64    `json:"term"`              // Raft term the claim/release belongs to; 0 for a drain
	Handoff string    `json:"handoff,omitempty"` // release only: the node meant to claim next
	Reason  string    `json:"reason,omitempty"`  // release and drain only: why
	Pin     bool      `json:"pin,omitempty"`     // release only: an operator transfer pins the VIP on Handoff
	Drained bool      `json:"drained,omitempty"` // drain only: true drains Node, false undrains it
	At      time.Time `json:"at"`                // stamped by the proposer, UTC
	Index   uint64    `json:"index,omitempty"`   // Raft log index, set by FSM.Apply

	// Of an assign, and of a group's release:
	Group       string `json:"group,omitempty"`
	Incarnation string `json:"incarnation,omitempty"` // the assignee's boot id
	// Of an assign: the assignee's settings at assignment time.
	Lease    time.Duration `json:"lease,omitempty"`
	Delta    time.Duration `json:"delta,omitempty"`
	Lifetime time.Duration `json:"lifetime,omitempty"`
	Strict   bool          `json:"strict,omitempty"`
	// Of a group's release: the assignment it ends, and whether its node held it.
	AssignIndex uint64 `json:"assign_index,omitempty"`
	Held        bool   `json:"held,omitempty"`
}

// Assignment returns an assign record as Ownership takes it.
func (r Record) Assignment() Assignment {
	return Assignment{Index: r.Index, Node: r.Node, Incarnation: r.Incarnation, Lease: r.Lease, Delta: r.Delta,
		Lifetime: r.Lifetime, Strict: r.Strict, Reason: r.Reason}
}

// Release returns a group's release record as Ownership takes it.
func (r Record) Release() Release {
	return Release{Node: r.Node, Incarnation: r.Incarnation, AssignIndex: r.AssignIndex, Held: r.Held}
}

// A log entry is laid out as
//
//	+------+---------------------------------------------------------+
//	| type | payload: one JSON object, UTF-8, no trailing data        |
//	+------+---------------------------------------------------------+
//	 byte 0  bytes 1..n
//
//	type 1 (claim):   {"kind":"claim","node":"lb1","term":3,"at":"2025-01-02T03:04:05.123456789Z"}
//	type 2 (release): {"kind":"release","node":"lb1","term":3,"handoff":"lb2","reason":"transfer","pin":true,"at":"..."}
//	type 3 (drain):   {"kind":"drain","node":"lb1","drained":true,"reason":"operator","at":"..."}
//
// "kind" repeats the type byte so a payload read on its own is unambiguous; the two
// must agree. "at" is RFC 3339 in UTC. The log index is not in the payload: Raft
// assigns it, and FSM.Apply copies it into Record.Index. A new kind of entry gets a
// new type byte; older versions reject it (ErrUnknownEntry) instead of guessing.
//
// Fields belong to kinds: "handoff" and "pin" to a release; "reason" to a release or a
// drain; "drained" to a drain, which must carry it ("drained":false undrains); a drain
// has no term (absent or 0). A field on the wrong kind makes the entry invalid.
// "pin":true marks the release of an operator transfer, which pins the VIP on the
// hand-off target (FSM.Pinned). It is written only when true; a release without it
// (every release before pins existed) does not pin, and versions before pins ignore it.
type payload struct {
	Kind    string    `json:"kind"`
	Node    string    `json:"node"`
	Term    uint64    `json:"term"`
	Handoff string    `json:"handoff,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Pin     bool      `json:"pin,omitempty"`
	At      time.Time `json:"at"`
}

// drainPayload is the payload of a drain entry, written in the order shown above.
type drainPayload struct {
	Kind    string    `json:"kind"`
	Node    string    `json:"node"`
	Drained bool      `json:"drained"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// decodedPayload is what decode reads: every field of every kind, with "drained" and
// "pin" pointers so that their absence can be told from false.
type decodedPayload struct {
	payload
	Pin     *bool `json:"pin"`
	Drained *bool `json:"drained"`
}

// EncodeClaim returns the log entry for node claiming the VIP in term, stamped at.
// at is stored in UTC; a time JSON cannot carry (outside years 0–9999) is stored as
// the zero time.
func EncodeClaim(node string, term uint64, at time.Time) []byte {
	return encode(TypeClaim, payload{Kind: KindClaim, Node: node, Term: term, At: storedTime(at)})
}

// EncodeRelease returns the log entry for node releasing the VIP it held in term,
// handing it to handoff (empty: nobody in particular) for reason, stamped at. pin marks
// an operator transfer that pins the VIP on handoff (see FSM.Pinned); without a
// handoff it pins nothing. at is stored as EncodeClaim stores it.
func EncodeRelease(node string, term uint64, handoff, reason string, pin bool, at time.Time) []byte {
	return encode(TypeRelease, payload{
		Kind: KindRelease, Node: node, Term: term, Handoff: handoff, Reason: reason, Pin: pin, At: storedTime(at),
	})
}

// EncodeDrain returns the log entry that drains node (drained true) or undrains it
// (drained false) for reason (optional, e.g. "operator"), stamped at. at is stored as
// EncodeClaim stores it.
func EncodeDrain(node string, drained bool, reason string, at time.Time) []byte {
	return encode(TypeDrain, drainPayload{
		Kind: KindDrain, Node: node, Drained: drained, Reason: reason, At: storedTime(at),
	})
}

// assignPayload is the payload of an assign entry (type 4):
//
//	{"kind":"assign","group":"web","node":"lb1","incarnation":"5f0c…","lease_ms":120,"delta_ms":80,
//	 "lifetime_ms":2000,"strict":false,"reason":"operator transfer (…)","at":"…"}
//
// Durations are whole milliseconds. A group name, a node and an incarnation are
// required, and a lease and a lifetime greater than zero.
type assignPayload struct {
	V           int       `json:"v"`
	Kind        string    `json:"kind"`
	Group       string    `json:"group"`
	Node        string    `json:"node"`
	Incarnation string    `json:"incarnation"`
	LeaseMS     int64     `json:"lease_ms"`
	DeltaMS     int64     `json:"delta_ms"`
	LifetimeMS  int64     `json:"lifetime_ms"`
	Strict      bool      `json:"strict"`
	Reason      string    `json:"reason,omitempty"`
	At          time.Time `json:"at"`
}

// letGoPayload is the payload of a group's release (type 5):
//
//	{"kind":"release","group":"web","node":"lb1","incarnation":"5f0c…","assign_index":42,"held":true,
//	 "reason":"transfer","at":"…"}
type letGoPayload struct {
	V           int       `json:"v"`
	Kind        string    `json:"kind"`
	Group       string    `json:"group"`
	Node        string    `json:"node"`
	Incarnation string    `json:"incarnation"`
	AssignIndex uint64    `json:"assign_index"`
	Held        bool      `json:"held"`
	Reason      string    `json:"reason,omitempty"`
	At          time.Time `json:"at"`
}

// EncodeAssign returns the log entry that assigns group to a.Node in a.Incarnation
// with a's settings (a.Index is not stored: Raft assigns it), for reason, stamped at.
func EncodeAssign(group string, a Assignment, reason string, at time.Time) []byte {
	return encode(TypeAssign, assignPayload{V: RecordVersion, Kind: KindAssign, Group: group, Node: a.Node, Incarnation: a.Incarnation,
		LeaseMS: a.Lease.Milliseconds(), DeltaMS: a.Delta.Milliseconds(), LifetimeMS: a.Lifetime.Milliseconds(),
		Strict: a.Strict, Reason: reason, At: storedTime(at)})
}

// EncodeLetGo returns the log entry of r.Node releasing its assignment of group at
// r.AssignIndex, for reason, stamped at.
func EncodeLetGo(group string, r Release, reason string, at time.Time) []byte {
	return encode(TypeLetGo, letGoPayload{V: RecordVersion, Kind: KindRelease, Group: group, Node: r.Node, Incarnation: r.Incarnation,
		AssignIndex: r.AssignIndex, Held: r.Held, Reason: reason, At: storedTime(at)})
}

// storedTime returns at as an entry stores it: in UTC, or the zero time if JSON
// cannot carry it.
func storedTime(at time.Time) time.Time {
	at = at.UTC()
	if y := at.Year(); y < 0 || y > 9999 {
		return time.Time{}
	}
	return at
}

func encode(typ byte, p any) []byte {
	b, err := json.Marshal(p)
	if err != nil {
		// Only a time can fail to marshal, and storedTime range-checked it.
		panic("store: encode log entry: " + err.Error())
	}
	return append([]byte{typ}, b...)
}

// Decode parses a log entry written by EncodeClaim, EncodeRelease or EncodeDrain.
// Record.Index is left zero. Errors wrap ErrUnknownEntry or ErrBadEntry; Decode never
// panics.
func Decode(b []byte) (Record, error) {
	r, err := decode(b)
	if err != nil {
		return Record{}, fmt.Errorf("store: decode: %w", err)
	}
	return r, nil
}

// decode is Decode with errors left for the caller to prefix.
func decode(b []byte) (Record, error) {
	if len(b) == 0 {
		return Record{}, fmt.Errorf("%w: empty", ErrBadEntry)
	}
	var kind string
	switch b[0] {
	case TypeAssign:
		return decodeAssign(b[1:])
	case TypeLetGo:
		return decodeLetGo(b[1:])
	case TypeClaim:
		kind = KindClaim
	case TypeRelease:
		kind = KindRelease
	case TypeDrain:
		kind = KindDrain
	default:
		return Record{}, fmt.Errorf("%w %d (a newer raftvip may have written it: upgrade this node)",
			ErrUnknownEntry, b[0])
	}
	var p decodedPayload
	if err := json.Unmarshal(b[1:], &p); err != nil {
		return Record{}, fmt.Errorf("%w (%s): %v", ErrBadEntry, kind, err)
	}
	switch {
	case p.Kind != kind:
		return Record{}, fmt.Errorf("%w (%s): kind %q does not match type byte %d",
			ErrBadEntry, kind, p.Kind, b[0])
	case p.Node == "":
		return Record{}, fmt.Errorf("%w (%s): no node", ErrBadEntry, kind)
	case kind == KindClaim && (p.Handoff != "" || p.Reason != ""):
		return Record{}, fmt.Errorf("%w (claim): handoff and reason belong to a release", ErrBadEntry)
	case kind != KindRelease && p.Pin != nil:
		return Record{}, fmt.Errorf("%w (%s): pin belongs to a release", ErrBadEntry, kind)
	case kind != KindDrain && p.Drained != nil:
		return Record{}, fmt.Errorf("%w (%s): drained belongs to a drain", ErrBadEntry, kind)
	case kind == KindDrain && p.Drained == nil:
		return Record{}, fmt.Errorf("%w (drain): no drained flag", ErrBadEntry)
	case kind == KindDrain && p.Handoff != "":
		return Record{}, fmt.Errorf("%w (drain): handoff belongs to a release", ErrBadEntry)
	case kind == KindDrain && p.Term != 0:
		return Record{}, fmt.Errorf("%w (drain): term %d, a drain has no term", ErrBadEntry, p.Term)
	}
	at := p.At.UTC()
	if y := at.Year(); y < 0 || y > 9999 {
		return Record{}, fmt.Errorf("%w (%s): time %s out of range", ErrBadEntry, kind, p.At)
	}
	r := Record{
		Kind: p.Kind, Node: p.Node, Term: p.Term, Handoff: p.Handoff, Reason: p.Reason, At: at,
	}
	if p.Pin != nil {
		r.Pin = *p.Pin
	}
	if p.Drained != nil {
		r.Drained = *p.Drained
	}
	return r, nil
}

// decodeAssign reads the payload of an assign entry.
func decodeAssign(b []byte) (Record, error) {
	if err := newerRecord(b, KindAssign); err != nil {
		return Record{}, err
	}
	var p assignPayload
	if err := strictUnmarshal(b, &p); err != nil {
		return Record{}, fmt.Errorf("%w (assign): %v", ErrBadEntry, err)
	}
	switch {
	case p.Kind != KindAssign:
		return Record{}, fmt.Errorf("%w (assign): kind %q does not match type byte %d", ErrBadEntry, p.Kind, TypeAssign)
	case p.Group == "" || p.Node == "" || p.Incarnation == "":
		return Record{}, fmt.Errorf("%w (assign): group, node and incarnation are required", ErrBadEntry)
	case p.LeaseMS <= 0 || p.LifetimeMS <= 0 || p.DeltaMS < 0:
		return Record{}, fmt.Errorf("%w (assign): lease %d ms, delta %d ms, lifetime %d ms", ErrBadEntry, p.LeaseMS, p.DeltaMS, p.LifetimeMS)
	}
	at, err := checkedTime(p.At, KindAssign)
	if err != nil {
		return Record{}, err
	}
	return Record{Kind: KindAssign, Group: p.Group, Node: p.Node, Incarnation: p.Incarnation,
		Lease: time.Duration(p.LeaseMS) * time.Millisecond, Delta: time.Duration(p.DeltaMS) * time.Millisecond,
		Lifetime: time.Duration(p.LifetimeMS) * time.Millisecond, Strict: p.Strict, Reason: p.Reason, At: at}, nil
}

// decodeLetGo reads the payload of a group's release.
func decodeLetGo(b []byte) (Record, error) {
	if err := newerRecord(b, KindRelease); err != nil {
		return Record{}, err
	}
	var p letGoPayload
	if err := strictUnmarshal(b, &p); err != nil {
		return Record{}, fmt.Errorf("%w (release): %v", ErrBadEntry, err)
	}
	switch {
	case p.Kind != KindRelease:
		return Record{}, fmt.Errorf("%w (release): kind %q does not match type byte %d", ErrBadEntry, p.Kind, TypeLetGo)
	case p.Group == "" || p.Node == "" || p.Incarnation == "" || p.AssignIndex == 0:
		return Record{}, fmt.Errorf("%w (release): group, node, incarnation and assign_index are required", ErrBadEntry)
	}
	at, err := checkedTime(p.At, KindRelease)
	if err != nil {
		return Record{}, err
	}
	return Record{Kind: KindRelease, Group: p.Group, Node: p.Node, Incarnation: p.Incarnation,
		AssignIndex: p.AssignIndex, Held: p.Held, Reason: p.Reason, At: at}, nil
}

// newerRecord reports a group record of a higher version than RecordVersion as an
// unknown entry: a newer raftvip may add fields this one would call invalid.
func newerRecord(b []byte, kind string) error {
	var v struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(b, &v); err == nil && v.V > RecordVersion {
		return fmt.Errorf("%w: a %s record of version %d (this raftvip reads version %d): upgrade this node", ErrUnknownEntry, kind, v.V, RecordVersion)
	}
	return nil
}

// strictUnmarshal decodes one JSON object with no unknown fields and nothing after it.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the object")
	}
	return nil
}

// checkedTime returns at in UTC, or an error if JSON could not have carried it.
func checkedTime(at time.Time, kind string) (time.Time, error) {
	at = at.UTC()
	if y := at.Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("%w (%s): time %s out of range", ErrBadEntry, kind, at)
	}
	return at, nil
}
