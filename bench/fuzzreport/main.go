// Command fuzzreport turns the output of `make fuzz` into the table of
// docs/fuzzing.md: one row per target with its executions, rate, new
// inputs and whether it failed.
//
//	make fuzz FUZZTIME=2m 2>&1 | tee fuzz.log | go run ./bench/fuzzreport
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func main() {
	rows, err := report(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzzreport:", err)
		os.Exit(1)
	}
	fmt.Print(rows)
}

// row is one fuzz target's last progress line.
type row struct {
	pkg, target             string
	execs, rate, fresh, all string
	failed                  bool
	// input is set when the fuzzer wrote a failing input (a real
	// failure); deadline when the target ended with "context deadline
	// exceeded", which Go's fuzzer can report at FUZZTIME without one.
	input, deadline bool
}

// progress matches the fuzzer's progress lines, e.g.
// "fuzz: elapsed: 2m0s, execs: 346004 (2859/sec), new interesting: 103 (total: 213)".
var progress = regexp.MustCompile(`^fuzz: elapsed: (\S+), execs: (\d+) \((\d+)/sec\), new interesting: (\d+) \(total: (\d+)\)`)

func report(r io.Reader) (string, error) {
	var rows []*row
	var cur *row
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "== "):
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			cur = &row{pkg: strings.TrimPrefix(f[1], "github.com/tether-edge/tether/"), target: f[2]}
			rows = append(rows, cur)
		case cur == nil:
		case strings.HasPrefix(line, "--- FAIL"), strings.HasPrefix(line, "FAIL"):
			cur.failed = true
		case strings.Contains(line, "Failing input written to"):
			cur.input = true
		case strings.TrimSpace(line) == "context deadline exceeded":
			cur.deadline = true
		default:
			if m := progress.FindStringSubmatch(line); m != nil {
				cur.execs, cur.rate, cur.fresh, cur.all = m[2], m[3], m[4], m[5]
				// The rate the fuzzer prints is over its last interval
				// only (often 0/sec on the line at the deadline): the
				// table gives executions over the whole elapsed time.
				if d, err := time.ParseDuration(m[1]); err == nil && d >= time.Second {
					if n, err := strconv.ParseInt(m[2], 10, 64); err == nil {
						cur.rate = strconv.FormatInt(n/int64(d/time.Second), 10)
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return "", fmt.Errorf("no '== <package> <target>' lines: feed it the output of make fuzz")
	}
	var b strings.Builder
	b.WriteString("| package | target | execs | execs/s | new interesting (corpus after) | result |\n|---|---|---:|---:|---|---|\n")
	for _, r := range rows {
		result := "no crash"
		switch {
		case r.failed && r.deadline && !r.input:
			result = "**FAILED**: context deadline exceeded at the end, no failing input written"
		case r.failed:
			result = "**FAILED**"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s (corpus %s) | %s |\n", r.pkg, r.target, r.execs, r.rate, r.fresh, r.all, result)
	}
	return b.String(), nil
}
