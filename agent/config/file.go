package config

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// MaxFileSize bounds the config file read.
const MaxFileSize = 1 << 20

// refusedKeys are Nomad client keys a Nomad user may bring along that the
// agent does not honour, with what to write instead.
var refusedKeys = map[string]string{
	"gc_inode_usage_threshold": "the allocation GC watches the data dir's disk space (gc_disk_usage_threshold) and the number of directories (gc_max_allocs), not its inodes: remove the line, and lower gc_max_allocs if the filesystem runs out of inodes",
	"gc_parallel_destroys":     "the agent removes one allocation directory at a time: remove the line",
}

// fileKeys are the keys a config file may set, in the order docs list them.
var fileKeys = []string{"name", "datacenter", "brokers", "data_dir", "join_token", "join_token_file", "central", "topic_prefix", "heartbeat", "meta", "log_level", "advertise", "tls", "artifact_file_paths", "artifact_allow_networks", "gc_interval", "gc_max_allocs", "gc_disk_usage_threshold", "podman", "reserved"}

// LoadFile reads the config file at path and applies it over cfg.
func LoadFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w (check the -config path)", err)
	}
	return ParseFile(path, data, cfg)
}

// ParseFile parses the flat HCL subset of an agent config file and sets the
// fields it names on cfg. name is used in error messages ("agent.hcl:3: ...").
//
//	name       = "pi-kitchen"        # comments: #, // and /* */
//	brokers    = ["tcp://10.0.0.2:1883", "tcp://10.0.0.3:1883"]
//	heartbeat  = "5s"                # or a number of seconds
//	meta { rack = "r1" }             # or meta = { ... }
//	tls { ca_file = "/etc/tether/ca.pem" }  # also cert_file, key_file
//	podman { default_registry = "docker.io" }
func ParseFile(name string, data []byte, cfg *Config) error {
	if len(data) > MaxFileSize {
		return fmt.Errorf("%s: file is %d bytes; the limit is %d", name, len(data), MaxFileSize)
	}
	toks, err := lex(name, string(data))
	if err != nil {
		return err
	}
	p := &parser{name: name, toks: toks, seen: map[string]int{}}
	return p.parse(cfg)
}

// value is a parsed right-hand side.
type value struct {
	kind tokKind // tokString, tokNumber, or tokPunct for list ("[") / map ("{")
	str  string
	list []string
	m    map[string]string
	line int
}

func (v value) describe() string {
	switch v.kind {
	case tokString:
		return "a string"
	case tokNumber:
		return "a number"
	}
	if v.str == "[" {
		return "a list"
	}
	return "a block"
}

type parser struct {
	name string
	toks []token
	pos  int
	seen map[string]int // key → line first set
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) errAt(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: "+format, append([]any{p.name, line}, args...)...)
}

func (p *parser) skipNewlines() {
	for p.peek().kind == tokNewline {
		p.next()
	}
}

func (p *parser) parse(cfg *Config) error {
	for {
		p.skipNewlines()
		t := p.next()
		if t.kind == tokEOF {
			a, tok := p.seen["join_token"]
			b, file := p.seen["join_token_file"]
			if tok && file {
				return p.errAt(max(a, b), "join_token and join_token_file are both set (lines %d and %d): keep one; join_token_file keeps the token out of this file", min(a, b), max(a, b))
			}
			return nil
		}
		if t.kind != tokIdent && t.kind != tokString {
			return p.errAt(t.line, "expected a key such as name = \"...\", got %s", t)
		}
		key := t.text
		if why, ok := refusedKeys[key]; ok {
			return p.errAt(t.line, "%s is not supported: %s", key, why)
		}
		if !contains(fileKeys, key) {
			return p.errAt(t.line, "unknown key %q (known: %s)", key, strings.Join(fileKeys, ", "))
		}
		if first, dup := p.seen[key]; dup {
			return p.errAt(t.line, "%s is set twice (first on line %d): keep one", key, first)
		}
		p.seen[key] = t.line
		var v value
		var err error
		if (key == "meta" || key == "tls" || key == "podman" || key == "reserved") && p.peek().kind == tokPunct && p.peek().text == "{" {
			v, err = p.parseValue() // block form: meta { ... }, tls { ... }, podman { ... }, reserved { ... }
		} else {
			if eq := p.next(); eq.kind != tokPunct || eq.text != "=" {
				return p.errAt(eq.line, "expected '=' after %s, got %s", key, eq)
			}
			v, err = p.parseValue()
		}
		if err != nil {
			return err
		}
		if end := p.next(); end.kind != tokNewline && end.kind != tokEOF {
			return p.errAt(end.line, "expected end of line after %s, got %s: put one key per line", key, end)
		}
		if err := p.set(cfg, key, v); err != nil {
			return err
		}
	}
}

func (p *parser) parseValue() (value, error) {
	t := p.next()
	switch {
	case t.kind == tokString || t.kind == tokNumber:
		return value{kind: t.kind, str: t.text, line: t.line}, nil
	case t.kind == tokPunct && t.text == "[":
		v := value{kind: tokPunct, str: "[", list: []string{}, line: t.line}
		for {
			p.skipNewlines()
			e := p.next()
			if e.kind == tokPunct && e.text == "]" {
				return v, nil
			}
			if e.kind != tokString {
				return v, p.errAt(e.line, "list elements must be quoted strings, got %s", e)
			}
			v.list = append(v.list, e.text)
			p.skipNewlines()
			sep := p.next()
			if sep.kind == tokPunct && sep.text == "]" {
				return v, nil
			}
			if sep.kind != tokPunct || sep.text != "," {
				return v, p.errAt(sep.line, "expected ',' or ']' in list, got %s", sep)
			}
		}
	case t.kind == tokPunct && t.text == "{":
		v := value{kind: tokPunct, str: "{", m: map[string]string{}, line: t.line}
		for {
			p.skipNewlines()
			k := p.next()
			if k.kind == tokPunct && k.text == "}" {
				return v, nil
			}
			if k.kind != tokIdent && k.kind != tokString {
				return v, p.errAt(k.line, "expected a key or '}' in block, got %s", k)
			}
			if _, dup := v.m[k.text]; dup {
				return v, p.errAt(k.line, "key %q is set twice in the block: keep one", k.text)
			}
			if eq := p.next(); eq.kind != tokPunct || eq.text != "=" {
				return v, p.errAt(eq.line, "expected '=' after %s, got %s", k.text, eq)
			}
			val := p.next()
			if val.kind != tokString && val.kind != tokNumber {
				return v, p.errAt(val.line, "value of %s must be a quoted string, got %s", k.text, val)
			}
			v.m[k.text] = val.text
			if sep := p.peek(); sep.kind == tokPunct && sep.text == "," {
				p.next()
			} else if sep.kind != tokNewline && !(sep.kind == tokPunct && sep.text == "}") {
				return v, p.errAt(sep.line, "expected end of line or '}' after %s, got %s", k.text, sep)
			}
		}
	}
	return value{}, p.errAt(t.line, "expected a value (\"string\", number, [list] or { block }), got %s", t)
}

func (p *parser) set(cfg *Config, key string, v value) error {
	wrong := func(want, example string) error {
		return p.errAt(v.line, "%s must be %s, got %s: e.g. %s", key, want, v.describe(), example)
	}
	switch key {
	case "brokers":
		if v.list == nil {
			return wrong("a list of broker URLs", `brokers = ["tcp://10.0.0.2:1883"]`)
		}
		cfg.Brokers = v.list
	case "artifact_file_paths":
		if v.list == nil {
			return wrong("a list of directories", `artifact_file_paths = ["/srv/artifacts"]`)
		}
		cfg.ArtifactFilePaths = v.list
	case "artifact_allow_networks":
		if v.list == nil {
			return wrong("a list of networks", `artifact_allow_networks = ["127.0.0.0/8"]`)
		}
		nets, err := ParseNetworks(v.list)
		if err != nil {
			return p.errAt(v.line, "artifact_allow_networks: %v", err)
		}
		cfg.ArtifactAllowNetworks = nets
	case "meta":
		if v.m == nil {
			return wrong("a block", `meta { rack = "r1" }`)
		}
		cfg.Meta = v.m
	case "tls":
		if v.m == nil {
			return wrong("a block", `tls { ca_file = "/etc/tether/ca.pem" }`)
		}
		if err := setTLS(cfg, v.m); err != nil {
			return p.errAt(v.line, "%v", err)
		}
	case "podman":
		if v.m == nil {
			return wrong("a block", `podman { default_registry = "docker.io" }`)
		}
		if err := setPodman(cfg, v.m); err != nil {
			return p.errAt(v.line, "%v", err)
		}
	case "reserved":
		if v.m == nil {
			return wrong("a block", `reserved { cpu = 500, memory = 256 }`)
		}
		if err := setReserved(cfg, v.m); err != nil {
			return p.errAt(v.line, "%v", err)
		}
	case "heartbeat":
		d, err := p.duration(key, v, "5s")
		if err != nil {
			return err
		}
		cfg.Heartbeat = d
	case "gc_interval":
		d, err := p.duration(key, v, "1m")
		if err != nil {
			return err
		}
		cfg.GCInterval = d
	case "gc_max_allocs":
		n, err := strconv.Atoi(strings.ReplaceAll(v.str, "_", ""))
		if v.kind != tokNumber || err != nil {
			return p.errAt(v.line, "gc_max_allocs must be a whole number of allocations, got %s %s: e.g. gc_max_allocs = 50", v.describe(), v.str)
		}
		cfg.GCMaxAllocs = n
	case "gc_disk_usage_threshold":
		f, err := strconv.ParseFloat(strings.ReplaceAll(v.str, "_", ""), 64)
		if v.kind != tokNumber || err != nil {
			return p.errAt(v.line, "gc_disk_usage_threshold must be a percentage (a number), got %s %s: e.g. gc_disk_usage_threshold = 80", v.describe(), v.str)
		}
		cfg.GCDiskUsageThreshold = f
	default:
		if v.kind != tokString {
			return wrong("a quoted string", key+` = "value"`)
		}
		switch key {
		case "name":
			cfg.Name = v.str
		case "datacenter":
			cfg.Datacenter = v.str
		case "data_dir":
			cfg.DataDir = v.str
		case "join_token":
			cfg.JoinToken = v.str
		case "join_token_file":
			cfg.JoinTokenFile = v.str
		case "central":
			cfg.Central = v.str
		case "advertise":
			cfg.Advertise = v.str
		case "topic_prefix":
			cfg.TopicPrefix = v.str
		case "log_level":
			cfg.LogLevel = v.str
		default:
			panic("BUG: config key " + key + " in fileKeys but not handled")
		}
	}
	return nil
}

// duration reads a duration key: a string ("5s") or a number of seconds.
func (p *parser) duration(key string, v value, example string) (time.Duration, error) {
	switch v.kind {
	case tokString:
		d, err := time.ParseDuration(v.str)
		if err != nil {
			return 0, p.errAt(v.line, "%s %q is not a duration: use e.g. %s = %q", key, v.str, key, example)
		}
		return d, nil
	case tokNumber:
		f, err := strconv.ParseFloat(strings.ReplaceAll(v.str, "_", ""), 64)
		if err != nil || f < 0 || f > 1e6 {
			return 0, p.errAt(v.line, "%s %s is not a number of seconds: use e.g. %s = %q", key, v.str, key, example)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	return 0, p.errAt(v.line, "%s must be a duration, got %s: e.g. %s = %q", key, v.describe(), key, example)
}

// ParseNetworks parses CIDR prefixes ("127.0.0.0/8", "fe80::/10"); a bare
// address stands for itself alone (/32 or /128).
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network: write a CIDR prefix such as \"127.0.0.0/8\" or \"::1/128\"", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
