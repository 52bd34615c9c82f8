package store

import (
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
)

// Record kinds, the "kind" field of a Record.
const (
	KindClaim   = "claim"
	KindRelease = "release"
	KindDrain   = "drain"
)

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
