package gateway

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// URLSchemes are the broker URL schemes the MQTT client dials.
var URLSchemes = []string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}

// SplitURLs splits one broker's URL list: the nodes of a clustered broker
// (NATS with its MQTT listener) written as "tcp://a:1883,tcp://b:1883".
// The gateway keeps one session with that broker and moves to the next
// node when its node goes away (docs/nats.md).
func SplitURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// CheckURLs checks one broker's URL list (SplitURLs) and names what is wrong.
func CheckURLs(s string) error {
	urls := SplitURLs(s)
	if len(urls) == 0 {
		return fmt.Errorf("broker %q is empty: use tcp://host:1883 (or the nodes of one clustered broker: tcp://a:1883,tcp://b:1883)", s)
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			return fmt.Errorf("broker %q is not a URL (%v): use tcp://host:1883", raw, err)
		case !slices.Contains(URLSchemes, u.Scheme):
			return fmt.Errorf("broker %q: scheme %q not supported (use one of %s), e.g. tcp://host:1883", raw, u.Scheme, strings.Join(URLSchemes, ", "))
		case u.Host == "":
			return fmt.Errorf("broker %q has no host: use tcp://host:1883", raw)
		}
	}
	return nil
}
