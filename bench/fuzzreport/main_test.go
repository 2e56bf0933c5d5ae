package main

import (
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	in := `== github.com/tether-edge/tether/protocol FuzzDecodeUpdate
fuzz: elapsed: 0s, gathering baseline coverage: 0/286 completed
fuzz: elapsed: 3s, execs: 50000 (16000/sec), new interesting: 2 (total: 288)
fuzz: elapsed: 2m0s, execs: 2112785 (17606/sec), new interesting: 281 (total: 286)
PASS
== github.com/tether-edge/tether/agent FuzzDesired
fuzz: elapsed: 9s, execs: 1000 (111/sec), new interesting: 1 (total: 5)
--- FAIL: FuzzDesired (9.00s)
    Failing input written to testdata/fuzz/FuzzDesired/0123abcd
== github.com/tether-edge/tether/agent/template FuzzParseRender
fuzz: elapsed: 3s, execs: 62 (21/sec), new interesting: 0 (total: 46)
fuzz: elapsed: 5s, execs: 2918 (0/sec), new interesting: 1 (total: 47)
--- FAIL: FuzzParseRender (5.15s)
    context deadline exceeded
FAIL
`
	got, err := report(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `protocol` | FuzzDecodeUpdate | 2112785 | 17606 | 281 (corpus 286) | no crash |",
		"| `agent` | FuzzDesired | 1000 | 111 | 1 (corpus 5) | **FAILED** |",
		"| `agent/template` | FuzzParseRender | 2918 | 583 | 1 (corpus 47) | **FAILED**: context deadline exceeded at the end, no failing input written |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if _, err := report(strings.NewReader("nothing")); err == nil {
		t.Error("no error for input without targets")
	}
}
