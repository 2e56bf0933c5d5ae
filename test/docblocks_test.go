package test

import (
	"strings"
	"testing"
)

func TestParseDocBlocks(t *testing.T) {
	page := strings.Join([]string{
		"<!-- doctest: live -->",
		"```sh",
		"central dev",
		"```",
		"```hcl",
		"job \"x\" {}",
		"```",
		"<!-- doctest: exit=1 -->",
		"```",
		"$ central job validate a.hcl \\",
		"    -var x=1",
		"Job validation errors:",
		"...",
		"```",
		"```",
		"$ not marked",
		"```",
	}, "\n")
	blocks, err := parseDocBlocks("p.md", page)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 {
		t.Fatalf("got %d shell blocks, want 3 (the hcl fence is not one): %+v", len(blocks), blocks)
	}
	if b := blocks[0]; !b.marked || !b.live || b.script != "central dev\n" || b.line != 2 {
		t.Errorf("live block: %+v", b)
	}
	b := blocks[1]
	if !b.marked || b.exit != 1 || b.script != "central job validate a.hcl \\\n    -var x=1\n" ||
		len(b.want) != 1 || b.want[0] != "Job validation errors:" {
		t.Errorf("prompted block: %+v", b)
	}
	if blocks[2].marked {
		t.Errorf("an unmarked block came back marked")
	}

	for _, bad := range []string{
		"<!-- doctest: exit=x -->\n```sh\ntrue\n```",
		"<!-- doctest: quiet -->\n```sh\ntrue\n```",
		"<!-- doctest -->\n```hcl\njob {}\n```",
	} {
		if _, err := parseDocBlocks("p.md", bad); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestOutputMatchesLoosely(t *testing.T) {
	out := "ID        Node ID   Task Group  Created\n" +
		"0489b7c1  28e2423c  web         7s ago\n" +
		"Score = -0.483\n" +
		"==> 2026-12-05T03:47:50Z: Evaluation \"0c32ff01\" finished\n"
	if _, ok := outputMatches(out, []string{
		"ID  Node ID  Task Group  Created",
		"8ba85cef  3f6e1a2b  web  2m5s ago",
		"Score               = 0.830",
		"==> 2026-11-26T12:00:01Z: Evaluation \"5f0b8c8e\" finished",
	}); !ok {
		t.Error("lines that differ only in IDs, times, numbers and spacing did not match")
	}
	for _, want := range [][]string{
		{"8ba85cef  3f6e1a2b  api  2m5s ago"}, // another word
		{"==> 2026-11-26T12:00:01Z: Evaluation \"5f0b8c8e\" finished", "ID  Node ID  Task Group  Created"}, // order
	} {
		if _, ok := outputMatches(out, want); ok {
			t.Errorf("%q matched %q", want, out)
		}
	}
	for script, want := range map[string]string{
		"curl http://10.0.0.5:7600/v1/jobs":                      "10.0.0.5",
		"agent -broker tcp://192.168.1.2:1883":                   "192.168.1.2",
		"central server -http 10.1.2.3:7600":                     "10.1.2.3",
		"curl http://127.0.0.1:7600 -http 0.0.0.0:7600":          "",
		"central tls cert create -additional-ipaddress 10.0.0.1": "",
	} {
		if ip := nonLoopback(script); ip != want {
			t.Errorf("nonLoopback(%q) = %q, want %q", script, ip, want)
		}
	}
}
