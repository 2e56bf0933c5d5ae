package config

import (
	"fmt"
	"strings"
)

// tokKind is the kind of a lexical token of the config file.
type tokKind int

const (
	tokEOF tokKind = iota
	tokNewline
	tokIdent
	tokString
	tokNumber
	tokPunct // one of = [ ] { } ,
)

type token struct {
	kind tokKind
	text string // ident name, decoded string, number text, or punctuation
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokNewline:
		return "end of line"
	case tokString:
		return fmt.Sprintf("string %q", t.text)
	case tokNumber:
		return "number " + t.text
	case tokIdent:
		return "identifier " + t.text
	}
	return "'" + t.text + "'"
}

// lex splits src into tokens. Comments (#, //, /* */) are skipped; newlines
// are kept because they end an attribute.
func lex(name string, src string) ([]token, error) {
	var toks []token
	line := 1
	i := 0
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: "+format, append([]any{name, line}, args...)...)
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			toks = append(toks, token{tokNewline, "\n", line})
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' || (c == '/' && i+1 < len(src) && src[i+1] == '/'):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, errf("comment /* is never closed: add */")
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += 2 + end + 2
		case strings.IndexByte("=[]{},", c) >= 0:
			toks = append(toks, token{tokPunct, string(c), line})
			i++
		case c == '"':
			s, n, err := lexString(src[i:])
			if err != nil {
				return nil, errf("%v", err)
			}
			toks = append(toks, token{tokString, s, line})
			i += n
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(src) && (src[j] == '.' || src[j] == '_' || (src[j] >= '0' && src[j] <= '9')) {
				j++
			}
			toks = append(toks, token{tokNumber, src[i:j], line})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && (isIdentStart(src[j]) || src[j] == '-' || (src[j] >= '0' && src[j] <= '9')) {
				j++
			}
			toks = append(toks, token{tokIdent, src[i:j], line})
			i = j
		default:
			return nil, errf("unexpected character %q: values must be quoted strings, numbers or [lists]", c)
		}
	}
	toks = append(toks, token{tokEOF, "", line})
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// lexString decodes a double-quoted string at the start of s and returns it
// with the number of bytes consumed.
func lexString(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), i + 1, nil
		case '\n':
			return "", 0, fmt.Errorf("string is not closed before the end of the line: add a closing \"")
		case '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("string ends in a lone backslash")
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\', '"':
				b.WriteByte(s[i])
			default:
				return "", 0, fmt.Errorf("unknown escape \\%c in string: use \\\\, \\\", \\n, \\t or \\r", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("string is never closed: add a closing \"")
}
