package jobspec

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// suggest returns the known name nearest to got, or "" if none is close.
func suggest(got string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		d := editDistance(strings.ToLower(got), strings.ToLower(k))
		if d < bestD {
			best, bestD = k, d
		}
	}
	limit := len(got) / 3
	if limit < 2 {
		limit = 2
	}
	if bestD > limit {
		return ""
	}
	return best
}

// didYouMean renders the fix for a misspelt name.
func didYouMean(got string, known []string) string {
	if s := suggest(got, known); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	k := append([]string(nil), known...)
	sort.Strings(k)
	k = slices.Compact(k) // meta and env are both an attribute and a block
	return "known: " + strings.Join(k, ", ")
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
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
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// meanFix is didYouMean for messages that already list the known names:
// the suggestion, or nothing.
func meanFix(got string, known []string) string {
	if s := suggest(got, known); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}

// Suggest returns the name in known nearest to got (by edit distance,
// case-insensitive), or "" if none is close: the "did you mean" of job
// file keys, for other callers (the CLI's verbs).
func Suggest(got string, known []string) string { return suggest(got, known) }
