package gossip

import (
	"maps"
	"strings"
)

// Why gossip turned a message away: the reasons gossip rejections are counted by.
const (
	RejectWrongKey     = "wrong_key"      // encrypted with a key this node does not have
	RejectNotEncrypted = "not_encrypted"  // a peer without cluster.encrypt sent plaintext
	RejectNoKey        = "no_key"         // a peer encrypts, and this node has no key
	RejectDecrypt      = "decrypt_failed" // any other message that does not decrypt
)

// rejectReason tells from a memberlist log line whether it reports a message
// that encryption turned away, and why. memberlist has no hook for it; its lines are
// "failed to receive: no installed keys could decrypt the message from=...",
// "Decrypt packet failed: ..." and the two about a missing key.
func rejectReason(msg string) (string, bool) {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "no installed keys could decrypt"):
		return RejectWrongKey, true
	case strings.Contains(m, "encryption is configured but remote state is not encrypted"):
		return RejectNotEncrypted, true
	case strings.Contains(m, "remote state is encrypted and encryption is not configured"):
		return RejectNoKey, true
	case strings.Contains(m, "decrypt packet failed"):
		return RejectDecrypt, true
	}
	return "", false
}

// observe counts memberlist's lines about messages encryption turned away.
func (g *Gossip) observe(msg string) {
	reason, ok := rejectReason(msg)
	if !ok {
		return
	}
	g.mu.Lock()
	g.rejects[reason]++
	g.mu.Unlock()
}

// Rejects counts the gossip messages this node turned away because they did not
// decrypt with cluster.encrypt (or were not encrypted), by reason (Reject* constants).
func (g *Gossip) Rejects() map[string]uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.rejects)
}
