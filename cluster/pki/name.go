package pki

import (
	"fmt"
	"unicode"
)

// NodeNameProblem says what is wrong with a node name, or "" if nothing. A node name
// is the Raft server ID and the common name of the node's certificate, so it is kept
// to letters, digits, '-', '_' and '.'.
func NodeNameProblem(s string) string {
	if s == "" {
		return "is empty"
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return fmt.Sprintf("contains %q; a node name (the Raft server ID) may use only letters, digits, '-', '_' and '.'", r)
		}
	}
	return ""
}
