package config

import (
	"strconv"
	"strings"
)

// closest returns the candidate closest to s by edit distance, if it is close
// enough to be a typo, or if one starts the other ("election" for election_timeout,
// "warning" for warn), or if s is keepalived's name for it (notify_master for master).
func closest(s string, candidates []string) (string, bool) {
	best, bestD := "", -1
	ls := strings.ToLower(strings.ReplaceAll(s, "-", "_"))
	for _, c := range candidates {
		dist := editDistance(ls, c)
		if strings.HasPrefix(c, ls+"_") || len(c) >= 3 && strings.HasPrefix(ls, c) ||
			len(c) >= 4 && strings.HasPrefix(ls, "notify_") && strings.TrimPrefix(ls, "notify_") == c {
			dist = 1
		}
		if bestD < 0 || dist < bestD {
			best, bestD = c, dist
		}
	}
	limit := max(1, len([]rune(best))/3)
	if bestD < 0 || bestD > limit || best == s {
		return "", false
	}
	return best, true
}

// editDistance is the optimal string alignment distance: insertions, deletions,
// substitutions and transpositions of adjacent runes each count 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb))
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// orList lists words as `"a", "b" or "c"`.
func orList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// andList lists words as "a, b and c".
func andList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
