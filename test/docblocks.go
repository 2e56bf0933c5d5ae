package test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A docBlock is one fenced shell block of a Markdown page. Blocks marked
// runnable (an HTML comment "<!-- doctest -->" on the line before the
// fence) are run by TestDocsRun against a live `central dev`; the grammar
// is in docs/contributing.md.
type docBlock struct {
	page string
	line int // of the opening fence, 1-based
	// marked: the block has a doctest marker; the fields below hold its
	// options.
	marked bool
	// live: the block starts the live central (a `central dev` command)
	// instead of running against one.
	live bool
	// exit is the status the block must end with (default 0).
	exit int
	// sample: the output shown after `$ ` commands comes from another
	// cluster; only the exit status is checked.
	sample bool
	// script is the shell text to run: the whole block, or only the
	// `$ ` lines (and their `\` continuations) of a prompted block.
	script string
	// want holds the output lines shown after the `$ ` commands of a
	// prompted block, checked loosely (see outputMatches).
	want []string
}

var markerRE = regexp.MustCompile(`^<!--\s*doctest(?::\s*(.*?))?\s*-->$`)

// parseDocBlocks returns the shell blocks of a Markdown page: fences
// labelled sh, bash, shell or console, and unlabelled fences whose first
// line is a `$ ` prompt. Other fences (hcl, json, output samples) are not
// commands and are not returned. A marker with an option it does not know,
// or on a fence that is not a shell block, is an error.
func parseDocBlocks(page, text string) ([]docBlock, error) {
	lines := strings.Split(text, "\n")
	var blocks []docBlock
	for i := 0; i < len(lines); i++ {
		fence := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(fence, "```") {
			continue
		}
		lang := strings.TrimPrefix(fence, "```")
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		body := lines[i+1 : min(end, len(lines))]
		open := i
		i = end
		var marker []string
		if open > 0 {
			marker = markerRE.FindStringSubmatch(strings.TrimSpace(lines[open-1]))
		}
		prompted := len(body) > 0 && strings.HasPrefix(body[0], "$ ")
		shell := lang == "sh" || lang == "bash" || lang == "shell" || lang == "console" || (lang == "" && prompted)
		if !shell {
			if marker != nil {
				return nil, fmt.Errorf("%s:%d: a doctest marker on a fence that is not a shell block (```sh, ```console, or ``` whose first line is a $ prompt)", page, open+1)
			}
			continue
		}
		b := docBlock{page: page, line: open + 1, marked: marker != nil}
		if marker != nil {
			if err := b.setOptions(marker[1]); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", page, open, err)
			}
		}
		if prompted || lang == "console" {
			b.script, b.want = splitPrompted(body)
		} else {
			b.script = strings.Join(body, "\n") + "\n"
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

func (b *docBlock) setOptions(opts string) error {
	for _, o := range strings.Fields(opts) {
		switch {
		case o == "live":
			b.live = true
		case o == "sample":
			b.sample = true
		case strings.HasPrefix(o, "exit="):
			n, err := strconv.Atoi(strings.TrimPrefix(o, "exit="))
			if err != nil || n < 0 || n > 255 {
				return fmt.Errorf("doctest option %q: write exit=N with N from 0 to 255", o)
			}
			b.exit = n
		default:
			return fmt.Errorf("unknown doctest option %q (known: live, sample, exit=N)", o)
		}
	}
	return nil
}

// splitPrompted separates the commands of a prompted block (lines that
// start with "$ ", and the lines a trailing backslash continues) from the
// output shown after them.
func splitPrompted(body []string) (script string, want []string) {
	var sb strings.Builder
	cont := false
	for _, l := range body {
		switch {
		case cont:
			sb.WriteString(l + "\n")
		case strings.HasPrefix(l, "$ "):
			sb.WriteString(strings.TrimPrefix(l, "$ ") + "\n")
		default:
			if strings.TrimSpace(l) != "" && strings.TrimSpace(l) != "..." {
				want = append(want, l)
			}
			continue
		}
		cont = strings.HasSuffix(l, "\\")
	}
	return sb.String(), want
}

// Values that differ from one cluster to the next: IDs, times, numbers.
var (
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	idRE   = regexp.MustCompile(`\b[0-9a-f]{8}(?:-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|-\.\.\.|\b)`)
	numRE  = regexp.MustCompile(`-?(\d+(\.\d+)?(ns|µs|ms|h|m|s)?)+`)
)

// normalise makes an output line comparable across clusters: times, IDs
// and numbers become placeholders and runs of spaces one space (columns
// are as wide as their values).
func normalise(l string) string {
	l = timeRE.ReplaceAllString(l, "<time>")
	l = idRE.ReplaceAllStringFunc(l, func(s string) string {
		if strings.ContainsAny(s, "0123456789") {
			return "<id>"
		}
		return s // a word such as "deadbeef" or "accepted"
	})
	l = numRE.ReplaceAllString(l, "<n>")
	return strings.Join(strings.Fields(l), " ")
}

// outputMatches reports whether every wanted line appears, in order, among
// the output's lines once both are normalised; lines the page leaves out
// may come between them. It returns the first wanted line not found.
func outputMatches(out string, want []string) (missing string, ok bool) {
	got := strings.Split(out, "\n")
	j := 0
	for _, w := range want {
		nw := normalise(w)
		for j < len(got) && normalise(got[j]) != nw {
			j++
		}
		if j == len(got) {
			return w, false
		}
		j++
	}
	return "", true
}

// ipv4RE finds IPv4 addresses a command would reach: after "//" or
// before ":port" (a certificate's -additional-ipaddress is not reached).
// A marked block may reach only loopback (127.x) and the wildcard 0.0.0.0.
var ipv4RE = regexp.MustCompile(`(?://|\b)((\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3})(?::\d+|\b)`)

// nonLoopback returns the first address in script that a marked block may
// not reach, or "".
func nonLoopback(script string) string {
	for _, m := range ipv4RE.FindAllStringSubmatch(script, -1) {
		reached := strings.HasPrefix(m[0], "//") || strings.Contains(m[0], ":")
		if reached && m[2] != "127" && m[1] != "0.0.0.0" {
			return m[1]
		}
	}
	return ""
}
