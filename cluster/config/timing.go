package config

import (
	"errors"
	"fmt"
	"time"
)

// DefaultProfile is the timing profile used when cluster.timing is not set.
const DefaultProfile = "lan"

// Timing is one node's set of Raft and lease timings. The three profiles (lan, fast,
// wan) are starting points; the operator may override single knobs under
// cluster.timing.
//
// The safety argument (DESIGN §9.3, docs/safety.md): a holder keeps a group only while
// a majority of voters vouched for its assignment within VIPLease (L), and renews every
// RenewInterval. Every assignment records the assignee's L and ClaimMargin (δ); the next
// assignee of the group waits W(g), the largest L + δ of the assignees since the last
// held release, so the old holder's last lease has run out by then.
type Timing struct {
	Profile          string        // lan | fast | wan: the profile the knobs start from
	HeartbeatTimeout time.Duration // raft.Config.HeartbeatTimeout
	ElectionTimeout  time.Duration // raft.Config.ElectionTimeout
	LeaderLease      time.Duration // raft.Config.LeaderLeaseTimeout
	CommitTimeout    time.Duration // raft.Config.CommitTimeout
	VIPLease         time.Duration // L: a holder's quorum lease, from the send of a renewal round
	RPCTimeout       time.Duration // T_rpc: raft transport I/O deadline
	ClaimMargin      time.Duration // δ: clock-rate drift and the delay of a removal
}

// Profile returns the named timing profile: "lan", "fast" or "wan".
func Profile(name string) (Timing, bool) {
	switch name {
	case "lan":
		return Timing{
			Profile:          "lan",
			HeartbeatTimeout: 300 * time.Millisecond,
			ElectionTimeout:  300 * time.Millisecond,
			LeaderLease:      150 * time.Millisecond,
			CommitTimeout:    25 * time.Millisecond,
			VIPLease:         120 * time.Millisecond,
			RPCTimeout:       100 * time.Millisecond,
			ClaimMargin:      80 * time.Millisecond,
		}, true
	case "fast":
		return Timing{
			Profile:          "fast",
			HeartbeatTimeout: 100 * time.Millisecond,
			ElectionTimeout:  100 * time.Millisecond,
			LeaderLease:      50 * time.Millisecond,
			CommitTimeout:    10 * time.Millisecond,
			VIPLease:         40 * time.Millisecond,
			RPCTimeout:       35 * time.Millisecond,
			ClaimMargin:      25 * time.Millisecond,
		}, true
	case "wan":
		return Timing{
			Profile:          "wan",
			HeartbeatTimeout: time.Second,
			ElectionTimeout:  time.Second,
			LeaderLease:      500 * time.Millisecond,
			CommitTimeout:    50 * time.Millisecond,
			VIPLease:         500 * time.Millisecond,
			RPCTimeout:       500 * time.Millisecond,
			ClaimMargin:      200 * time.Millisecond,
		}, true
	}
	return Timing{}, false
}

// Summary is t in one line, every knob with its value: what a node gossips, so
// that others can name a member whose timing differs.
func (t Timing) Summary() string {
	return fmt.Sprintf("%s (heartbeat %s, election %s, leader lease %s, commit %s, vip_lease %s, rpc %s, claim_margin %s)",
		t.Profile, t.HeartbeatTimeout, t.ElectionTimeout, t.LeaderLease, t.CommitTimeout, t.VIPLease, t.RPCTimeout, t.ClaimMargin)
}

// RenewInterval is how often a holder renews its lease: VIPLease / 4.
func (t Timing) RenewInterval() time.Duration {
	return t.VIPLease / 4
}

// Validate reports every rule t breaks, one error per rule, joined. The built-in
// profiles are valid.
func (t Timing) Validate() error {
	var errs []error
	for _, is := range t.check(nil, nil) {
		errs = append(errs, fmt.Errorf("config: timing: %s: %s", is.knob, is.msg))
	}
	return errors.Join(errs...)
}

// timingProfileNames lists the profiles in the order the docs present them.
func timingProfileNames() []string { return []string{"lan", "fast", "wan"} }

// timingKnob is one duration of Timing under its YAML key.
type timingKnob struct {
	key string
	ptr func(*Timing) *time.Duration
	min time.Duration // smallest legal value
	why string        // why min: finishes "... is below <min>; <why>"
}

// timingMax bounds every knob: timings are milliseconds to seconds, and the bound
// keeps sums such as W(g) from overflowing.
const timingMax = time.Hour

func timingKnobs() []timingKnob {
	const raftMin = "hashicorp/raft rejects values below 5ms"
	return []timingKnob{
		{"heartbeat_timeout", func(t *Timing) *time.Duration { return &t.HeartbeatTimeout }, 5 * time.Millisecond, raftMin},
		{"election_timeout", func(t *Timing) *time.Duration { return &t.ElectionTimeout }, 5 * time.Millisecond, raftMin},
		{"leader_lease", func(t *Timing) *time.Duration { return &t.LeaderLease }, 5 * time.Millisecond, raftMin},
		{"commit_timeout", func(t *Timing) *time.Duration { return &t.CommitTimeout }, time.Millisecond,
			"hashicorp/raft rejects values below 1ms"},
		{"vip_lease", func(t *Timing) *time.Duration { return &t.VIPLease }, 20 * time.Millisecond,
			"a holder renews its lease every vip_lease/4, and that must be at least 5ms"},
		{"rpc_timeout", func(t *Timing) *time.Duration { return &t.RPCTimeout }, 10 * time.Millisecond,
			"below 10ms the Raft transport times out on ordinary scheduling delays"},
		{"claim_margin", func(t *Timing) *time.Duration { return &t.ClaimMargin }, time.Nanosecond,
			"the margin covers clock-rate drift and the delay of a removal and cannot be zero"},
	}
}

// timingIssue is one broken rule, blamed on one knob (its YAML key).
type timingIssue struct {
	knob string
	msg  string
}

// timingOrder is a rule "big >= small" between two knobs.
type timingOrder struct {
	big, small string
	why        string
}

func timingOrders() []timingOrder {
	return []timingOrder{
		{"election_timeout", "heartbeat_timeout",
			"hashicorp/raft requires election_timeout to be at least heartbeat_timeout"},
		{"heartbeat_timeout", "leader_lease",
			"hashicorp/raft requires leader_lease to be at most heartbeat_timeout"},
	}
}

// check returns every rule t breaks. set reports whether the operator set a knob
// explicitly (nil: treat every knob as set); a rule between two knobs is blamed on the
// one that was set, and the message says where the other value came from. broken
// reports knobs whose value could not be read (nil: none); rules on them are skipped.
func (t Timing) check(set, broken func(knob string) bool) []timingIssue {
	if set == nil {
		set = func(string) bool { return true }
	}
	if broken == nil {
		broken = func(string) bool { return false }
	}
	var issues []timingIssue
	bad := map[string]bool{}
	vals := map[string]time.Duration{}
	for _, k := range timingKnobs() {
		v := *k.ptr(&t)
		vals[k.key] = v
		switch {
		case broken(k.key):
		case v <= 0:
			issues = append(issues, timingIssue{k.key, fmt.Sprintf("%s must be greater than 0", v)})
		case v < k.min:
			issues = append(issues, timingIssue{k.key, fmt.Sprintf("%s is below %s; %s", v, k.min, k.why)})
		case v > timingMax:
			issues = append(issues, timingIssue{k.key, fmt.Sprintf(
				"%s is above %s; timing knobs are milliseconds to a few seconds (profile wan uses 1s heartbeats)", v, timingMax)})
		default:
			continue
		}
		bad[k.key] = true
	}
	source := func(knob string) string {
		if set(knob) {
			return vals[knob].String()
		}
		return fmt.Sprintf("%s from profile %s", vals[knob], t.Profile)
	}
	for _, o := range timingOrders() {
		if bad[o.big] || bad[o.small] || vals[o.big] >= vals[o.small] {
			continue
		}
		if set(o.big) || !set(o.small) {
			issues = append(issues, timingIssue{o.big, fmt.Sprintf(
				"%s is below %s (%s); %s: raise %s to %s or more, or lower %s",
				vals[o.big], o.small, source(o.small), o.why, o.big, vals[o.small], o.small)})
		} else {
			issues = append(issues, timingIssue{o.small, fmt.Sprintf(
				"%s is above %s (%s); %s: lower %s to %s or less, or raise %s",
				vals[o.small], o.big, source(o.big), o.why, o.small, vals[o.big], o.big)})
		}
	}
	return issues
}
