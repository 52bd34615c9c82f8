package election

import (
	"slices"
	"time"

	"github.com/raftvip/raftvip/store"
)

// A small Raft for the simulation: terms, votes with the log up-to-date check, log
// replication with the consistency check and truncation, commit by a majority of the
// latest configuration's voters for entries of the leader's term (Raft paper, Figure
// 8), and single-server configuration changes that take effect when appended, one
// at a time. It leaves out what safety does not need: pre-vote, snapshots and
// pipelining.

type simRole int

const (
	roleFollower simRole = iota
	roleCandidate
	roleLeader
)

const (
	simHeartbeat   = 30 * time.Millisecond
	simElectionMin = 150 * time.Millisecond
)

type entryKind int

const (
	entNoop entryKind = iota
	entConfig
	entAssign
	entRelease
)

// simConfig is a configuration: its voters and non-voters.
type simConfig struct {
	voters, learners []string
}

func (c simConfig) members() []string { return append(slices.Clone(c.voters), c.learners...) }

type simEntry struct {
	term    uint64
	kind    entryKind
	cfg     simConfig        // entConfig
	group   string           // entAssign, entRelease
	assign  store.Assignment // entAssign; Index is the entry's own
	release store.Release    // entRelease
}

// simRaft is a node's Raft state: persistent (term, vote, log) and volatile.
type simRaft struct {
	term     uint64
	votedFor string
	log      []simEntry // log[i] has index i+1

	role   simRole
	leader string
	commit uint64
	votes  map[string]bool
	next   map[string]uint64
	match  map[string]uint64
}

type voteReq struct {
	term              uint64
	lastIndex, lastTm uint64
}

type voteResp struct {
	term    uint64
	granted bool
}

type appendReq struct {
	term      uint64
	prevIndex uint64
	prevTerm  uint64
	entries   []simEntry
	commit    uint64
}

type appendResp struct {
	term    uint64
	success bool
	match   uint64 // success: the last index now matching; failure: a hint
	who     simKnown
}

func (r *simRaft) lastIndex() uint64 { return uint64(len(r.log)) }

func (r *simRaft) termAt(i uint64) uint64 {
	if i == 0 || i > r.lastIndex() {
		return 0
	}
	return r.log[i-1].term
}

// config returns the latest configuration in the log, with its index and term.
func (r *simRaft) config() (simConfig, uint64, uint64) {
	for i := len(r.log) - 1; i >= 0; i-- {
		if r.log[i].kind == entConfig {
			return r.log[i].cfg, uint64(i + 1), r.log[i].term
		}
	}
	return simConfig{}, 0, 0
}

func (r *simRaft) isVoter(name string) bool {
	c, _, _ := r.config()
	return slices.Contains(c.voters, name)
}

// --- the node's Raft behaviour ---

func (n *simNode) resetElectionTimer() {
	n.electionGen++
	gen, eg := n.gen, n.electionGen
	timeout := n.w.uniform(simElectionMin, 2*simElectionMin)
	if n.w.o.Script {
		timeout = time.Hour // a script decides who leads
	}
	n.w.after(timeout, func() {
		if n.gen == gen && n.electionGen == eg {
			n.electionTimeout()
		}
	})
}

func (n *simNode) electionTimeout() {
	r := &n.r
	if r.role != roleLeader && r.isVoter(n.name) {
		n.campaign()
	}
	n.resetElectionTimer()
}

func (n *simNode) campaign() {
	r := &n.r
	r.term++
	r.votedFor = n.name
	r.role = roleCandidate
	r.leader = ""
	r.votes = map[string]bool{n.name: true}
	n.w.logf("%s campaigns in term %d", n.name, r.term)
	cfg, _, _ := r.config()
	for _, v := range cfg.voters {
		if v != n.name {
			n.w.send(n.name, v, voteReq{term: r.term, lastIndex: r.lastIndex(), lastTm: r.termAt(r.lastIndex())})
		}
	}
	n.maybeWin()
}

func (n *simNode) maybeWin() {
	r := &n.r
	cfg, _, _ := r.config()
	votes := 0
	for _, v := range cfg.voters {
		if r.votes[v] {
			votes++
		}
	}
	if r.role == roleCandidate && 2*votes > len(cfg.voters) {
		n.becomeLeader()
	}
}

func (n *simNode) stepDown(term uint64, leader string) {
	r := &n.r
	if term > r.term {
		r.term, r.votedFor = term, ""
	}
	wasLeader := r.role == roleLeader
	r.role, r.leader = roleFollower, leader
	if wasLeader {
		n.w.logf("%s steps down in term %d", n.name, r.term)
		n.leaderState = nil
	}
}

func (n *simNode) onVoteReq(from string, m voteReq) {
	r := &n.r
	if m.term > r.term {
		n.stepDown(m.term, "")
	}
	upToDate := m.lastTm > r.termAt(r.lastIndex()) || m.lastTm == r.termAt(r.lastIndex()) && m.lastIndex >= r.lastIndex()
	grant := m.term == r.term && (r.votedFor == "" || r.votedFor == from) && upToDate
	if grant {
		r.votedFor = from
		n.resetElectionTimer()
	}
	n.w.send(n.name, from, voteResp{term: r.term, granted: grant})
}

func (n *simNode) onVoteResp(from string, m voteResp) {
	r := &n.r
	if m.term > r.term {
		n.stepDown(m.term, "")
		return
	}
	if r.role == roleCandidate && m.term == r.term && m.granted {
		r.votes[from] = true
		n.maybeWin()
	}
}

func (n *simNode) becomeLeader() {
	r := &n.r
	r.role, r.leader = roleLeader, n.name
	r.next, r.match = map[string]uint64{}, map[string]uint64{}
	cfg, _, _ := r.config()
	for _, m := range cfg.members() {
		r.next[m], r.match[m] = r.lastIndex()+1, 0
	}
	n.w.logf("%s leads in term %d", n.name, r.term)
	n.w.stats.elections++
	n.leaderState = newLeaderState(n)
	n.appendEntry(simEntry{kind: entNoop})
	n.heartbeat()
}

// heartbeat sends every member what it lacks, and schedules the next round.
func (n *simNode) heartbeat() {
	r := &n.r
	if r.role != roleLeader {
		return
	}
	cfg, _, _ := r.config()
	for _, m := range cfg.members() {
		if m != n.name {
			n.sendAppend(m)
		}
	}
	gen, term := n.gen, r.term
	n.w.after(simHeartbeat, func() {
		if n.gen == gen && n.r.term == term {
			n.heartbeat()
		}
	})
}

func (n *simNode) sendAppend(to string) {
	r := &n.r
	next, ok := r.next[to]
	if !ok {
		next = r.lastIndex() + 1
		r.next[to] = next
	}
	prev := next - 1
	end := min(r.lastIndex(), prev+16)
	entries := slices.Clone(r.log[prev:end])
	n.w.send(n.name, to, appendReq{term: r.term, prevIndex: prev, prevTerm: r.termAt(prev), entries: entries, commit: r.commit})
}

// appendEntry appends e to the leader's log in its term and replicates it at once.
func (n *simNode) appendEntry(e simEntry) uint64 {
	r := &n.r
	e.term = r.term
	idx := r.lastIndex() + 1
	if e.kind == entAssign {
		e.assign.Index = idx
	}
	r.log = append(r.log, e)
	r.match[n.name] = idx
	switch e.kind {
	case entAssign:
		n.w.stats.assigns++
	case entRelease:
		n.w.stats.releases++
	case entConfig:
		n.w.stats.configChanges++
	}
	if e.kind == entConfig {
		for _, m := range e.cfg.members() {
			if _, ok := r.next[m]; !ok {
				r.next[m], r.match[m] = idx, 0
			}
		}
	}
	n.logChanged()
	n.advanceCommit()
	cfg, _, _ := r.config()
	for _, m := range cfg.members() {
		if m != n.name {
			n.sendAppend(m)
		}
	}
	return idx
}

func (n *simNode) onAppendReq(from string, m appendReq) {
	r := &n.r
	who := simKnown{incarnation: n.incName(), lease: n.lease, delta: n.delta}
	if m.term < r.term {
		n.w.send(n.name, from, appendResp{term: r.term, who: who})
		return
	}
	if m.term > r.term || r.role != roleFollower || r.leader != from {
		n.stepDown(m.term, from)
	}
	n.resetElectionTimer()
	if m.prevIndex > r.lastIndex() || r.termAt(m.prevIndex) != m.prevTerm {
		n.w.send(n.name, from, appendResp{term: r.term, match: min(r.lastIndex(), m.prevIndex-min(m.prevIndex, 1)), who: who})
		return
	}
	changed := false
	for i, e := range m.entries {
		idx := m.prevIndex + uint64(i) + 1
		if idx <= r.lastIndex() {
			if r.termAt(idx) == e.term {
				continue
			}
			if idx <= r.commit {
				n.w.violations = append(n.w.violations, "raft: a committed entry was truncated")
			}
			r.log = r.log[:idx-1]
		}
		r.log = append(r.log, e)
		changed = true
	}
	last := m.prevIndex + uint64(len(m.entries))
	if changed {
		n.logChanged()
	}
	if c := min(m.commit, last); c > r.commit {
		n.setCommit(c)
	}
	n.w.send(n.name, from, appendResp{term: r.term, success: true, match: last, who: who})
}

func (n *simNode) onAppendResp(from string, m appendResp) {
	r := &n.r
	if m.term > r.term {
		n.stepDown(m.term, "")
		return
	}
	if r.role != roleLeader || m.term != r.term {
		return
	}
	if l := n.leaderState; l != nil {
		l.known[from] = m.who
	}
	if m.success {
		if m.match > r.match[from] {
			r.match[from] = m.match
		}
		r.next[from] = r.match[from] + 1
		n.advanceCommit()
		return
	}
	r.next[from] = max(1, min(r.next[from]-1, m.match+1))
	n.sendAppend(from)
}

// advanceCommit commits the highest entry of the leader's term that a majority of the
// latest configuration's voters have.
func (n *simNode) advanceCommit() {
	r := &n.r
	cfg, _, _ := r.config()
	for idx := r.lastIndex(); idx > r.commit; idx-- {
		if r.termAt(idx) != r.term {
			break
		}
		count := 0
		for _, v := range cfg.voters {
			if r.match[v] >= idx {
				count++
			}
		}
		if 2*count > len(cfg.voters) {
			n.setCommit(idx)
			return
		}
	}
}

func (n *simNode) setCommit(c uint64) {
	old := n.r.commit
	n.r.commit = c
	n.committed(old, c)
}
