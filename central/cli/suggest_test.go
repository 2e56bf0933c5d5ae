package cli

import (
	"bytes"
	"strings"
	"testing"
)

// A misspelt command gets the nearest one, at the word that is wrong
// (jobspec's suggestion rule); a group's usage still follows.
func TestUnknownCommandDidYouMean(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"jbo", "status"}, `Unknown command "jbo status". Did you mean "job status"?`},
		{[]string{"jbo"}, `Unknown command "jbo". Did you mean "job"?`},
		{[]string{"job", "stauts"}, `Unknown command "job stauts". Did you mean "job status"?`},
		{[]string{"nod", "status", "-json"}, `Unknown command "nod status -json". Did you mean "node status"?`},
		{[]string{"node", "join-token", "crate"}, `Unknown command "node join-token crate". Did you mean "node join-token create"?`},
		{[]string{"acl", "tokn", "list"}, `Unknown command "acl tokn list". Did you mean "acl token list"?`},
		{[]string{"sever"}, `Unknown command "sever". Did you mean "server"?`},
		{[]string{"frobnicate"}, "Unknown command \"frobnicate\".\n"},
	} {
		var out, errb bytes.Buffer
		code := Run(tc.args, &out, &errb, func(string) string { return "" })
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errb.String(), exitUsage, tc.want)
		}
	}
	var out, errb bytes.Buffer
	if code := Run([]string{"node", "join-token", "-h"}, &out, &errb, func(string) string { return "" }); code != exitOK || !strings.Contains(errb.String(), "Usage: central node join-token <subcommand>") {
		t.Errorf("node join-token -h: exit %d, %q", code, errb.String())
	}
}
