package cli

import (
	"fmt"
	"sort"
	"strings"
)

func completionVerbs() map[string]verb {
	return map[string]verb{
		"completion bash": {"Print a bash completion script: source <(central completion bash)", "", (*env).completionBash},
	}
}

// completionBash prints a bash completion function built from the verb
// table, so it never goes stale: the first word completes to a command
// group, the second to its subcommands, later words to files.
func (e *env) completionBash(args []string) int {
	if len(args) > 0 {
		fmt.Fprintf(e.stderr, "central completion bash takes no arguments\n")
		return exitUsage
	}
	groups := map[string][]string{}
	for name := range verbs() {
		first, rest, _ := strings.Cut(name, " ")
		if rest != "" {
			sub, _, _ := strings.Cut(rest, " ")
			groups[first] = appendUnique(groups[first], sub)
		} else if _, ok := groups[first]; !ok {
			groups[first] = nil
		}
	}
	for _, top := range []string{"dev", "server", "version"} {
		groups[top] = nil
	}
	tops := make([]string, 0, len(groups))
	for g := range groups {
		tops = append(tops, g)
	}
	sort.Strings(tops)
	var b strings.Builder
	b.WriteString("# bash completion for central; load with: source <(central completion bash)\n")
	b.WriteString("_central() {\n  local cur=${COMP_WORDS[COMP_CWORD]}\n")
	fmt.Fprintf(&b, "  if [ \"$COMP_CWORD\" -eq 1 ]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", strings.Join(tops, " "))
	b.WriteString("  if [ \"$COMP_CWORD\" -eq 2 ]; then\n    case ${COMP_WORDS[1]} in\n")
	for _, g := range tops {
		if subs := groups[g]; len(subs) > 0 {
			sort.Strings(subs)
			fmt.Fprintf(&b, "      %s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return;;\n", g, strings.Join(subs, " "))
		}
	}
	b.WriteString("    esac\n  fi\n  COMPREPLY=($(compgen -f -- \"$cur\"))\n}\ncomplete -o filenames -F _central central\n")
	fmt.Fprint(e.stdout, b.String())
	return exitOK
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
