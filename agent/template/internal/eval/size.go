package eval

// Estimates of the text a value or a call makes, for Options.MaxBytes.
// They err on the large side: a call is refused only when even a generous
// reading of it is over the bound.

// recordSize is what one Record is counted as: a service instance prints
// in well under this.
const recordSize = 512

// size is about how many bytes v takes printed, or in memory for a list.
func size(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []string:
		n := 0
		for _, e := range x {
			n += len(e) + 16
		}
		return n
	case []Record:
		return len(x) * recordSize
	}
	return 16
}

// units is how many values fmt pads one by one when it prints v with a
// width: each element of a list, each field of a Record.
func units(v any) int {
	switch x := v.(type) {
	case []string:
		return len(x) + 1
	case []Record:
		return len(x)*32 + 1
	case Record:
		return 32
	}
	return 1
}

// textEstimate bounds what a builtin of the print family makes from args
// (0 for the other functions).
func textEstimate(name string, args []any) int {
	sum := 0
	for _, a := range args {
		sum += size(a) + 1
	}
	switch name {
	case "print", "println":
		return sum + 1
	case "html", "js":
		return 6*sum + 1 // an escape is at most 6 bytes (\u003C)
	case "urlquery":
		return 3*sum + 1
	case "printf":
		format := args[0].(string)
		widest, most := 0, 1
		for _, a := range args[1:] {
			widest = max(widest, size(a))
			most = max(most, units(a))
		}
		verbs, pad := scanFormat(format)
		return sum + verbs*(widest+32) + pad*most
	}
	return 0
}

// scanFormat counts the verbs of a printf format and adds up their widths
// and precisions (a '*' counts as fmt's largest, 1e6).
func scanFormat(f string) (verbs, pad int) {
	for i := 0; i < len(f); i++ {
		if f[i] == '%' {
			verbs++
			var n int
			i, n = spec(f, i+1)
			pad += n
		}
	}
	return verbs, pad
}

// spec reads the flags, argument indexes, width and precision of a verb
// from f[i:] and returns where its verb letter is and the sum of the
// numbers in between.
func spec(f string, i int) (verb, numbers int) {
	const widest = 1_000_000 // fmt refuses wider (%!(BADWIDTH))
	for ; i < len(f); i++ {
		switch c := f[i]; {
		case c >= '0' && c <= '9':
			n := 0
			for ; i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '9'; i++ {
				n = min(n*10+int(f[i]-'0'), widest)
			}
			numbers += min(n*10+int(f[i]-'0'), widest)
		case c == '*':
			numbers += widest
		case c == '+' || c == '-' || c == '#' || c == ' ' || c == '.' || c == '[' || c == ']':
		default:
			return i, numbers
		}
	}
	return i, numbers
}
