package cli

import "testing"

func TestEscapeFilter(t *testing.T) {
	for _, c := range []struct {
		name   string
		esc    byte
		in     []string // reads, in order
		out    string
		closed bool
	}{
		{"~. at the start closes", '~', []string{"~."}, "", true},
		{"after a newline", '~', []string{"ls\r~.rest"}, "ls\r", true},
		{"split across reads", '~', []string{"ls\n~", "."}, "ls\n", true},
		{"mid-line is text", '~', []string{"a~.b"}, "a~.b", false},
		{"~~ sends one ~", '~', []string{"~~."}, "~.", false},
		{"~ then other", '~', []string{"~x"}, "~x", false},
		{"another escape", '^', []string{"~.\n^."}, "~.\n", true},
		{"none", 0, []string{"~."}, "~.", false},
	} {
		f := escapeFilter{esc: c.esc, lineStart: true}
		var got []byte
		closed := false
		for _, r := range c.in {
			out, cl := f.feed([]byte(r))
			got = append(got, out...)
			if cl {
				closed = true
				break
			}
		}
		if string(got) != c.out || closed != c.closed {
			t.Errorf("%s: sent %q closed %v, want %q %v", c.name, got, closed, c.out, c.closed)
		}
	}
}
