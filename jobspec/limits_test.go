package jobspec

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

const okJob = `job "a" {
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}
`

// jobWith puts attr into the task's env (or, with block true, into the
// task body) of an otherwise valid job file.
func jobWith(head, env string) string {
	return head + "\njob \"a\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"exec\"\n      config { command = \"/bin/true\" }\n      env {\n        X = " + env + "\n      }\n    }\n  }\n}\n"
}

// deepShapes are inputs that nest far deeper than MaxNesting; at 100,000
// levels, hcl's parser or evaluator overflows the goroutine stack (a fatal
// error no recover catches).
func deepShapes() map[string]string {
	const n = 10_000 // shorter than the report's 100,000: the same check, faster under -race
	r := strings.Repeat
	return map[string]string{
		"brackets": jobWith("", r("[", 100_000)+r("]", 100_000)),
		"braces":   jobWith("", r("{a=", n)+"1"+r("}", n)),
		"parens":   jobWith("", r("(", n)+"1"+r(")", n)),
		"blocks":   r("a {\n", n) + r("}\n", n),
		"interps":  jobWith("", r(`"${`, n)+"1"+r(`}"`, n)),
		"bangs":    jobWith("", r("!", n)+"true"),
		"minus":    jobWith("", r("-", n)+"1"),
		"ternary":  jobWith("", r("true ? 1 : ", n)+"1"),
		"sum":      jobWith("", r("1 + ", n)+"1"),
		"index":    jobWith(`locals { l = [0] }`, "local.l"+r("[local.l[0]]", n)),
		"splat":    jobWith(`locals { l = [0] }`, "local.l"+r("[*]", n)),
		"ifs":      jobWith("", `"`+r("%{ if true }", n)+"x"+r("%{ endif }", n)+`"`),
		"heredoc":  jobWith("", "<<EOT\n"+r("${[", n)+"\nEOT\n"),
	}
}

func TestDeepNestingRefused(t *testing.T) {
	for name, src := range deepShapes() {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("deep.hcl", []byte(src), nil)
			if err == nil {
				t.Fatal("parsed")
			}
			if !errors.Is(err, ErrInvalidJob) {
				t.Fatalf("error does not match ErrInvalidJob: %v", err)
			}
			want := fmt.Sprintf("nested more than %d levels deep", MaxNesting)
			if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "deep.hcl:") {
				t.Fatalf("error = %v\nwant deep.hcl:<line>: ... %s", err, want)
			}
		})
	}
}

func TestDeepVarRefused(t *testing.T) {
	src := "variable \"v\" {\n  type = list(any)\n}\n" + okJob
	_, err := Parse("v.hcl", []byte(src), map[string]string{"v": strings.Repeat("[", 100_000)})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("nested more than %d levels deep", MaxNesting)) {
		t.Fatalf("err = %v", err)
	}
}

// TestNestingWithinLimit: what real job files do stays well inside.
func TestNestingWithinLimit(t *testing.T) {
	ors := strings.Repeat(`var.x == "a" || `, 40) + "true"
	src := "variable \"x\" {\n  default = \"a\"\n}\n" +
		"locals {\n  m = { \"a\": [1, 2], \"b\": [for i in [1, 2, 3] : i * 2 if i > 1] }\n  ok = " + ors + "\n  s = \"%{ if true }${upper(\"x\")}%{ endif }\"\n}\n" + okJob
	if _, err := Parse("ok.hcl", []byte(src), nil); err != nil {
		t.Fatal(err)
	}
	// Close to the limit: brackets count one level each.
	n := MaxNesting - 8 // the job's blocks and the env block nest too
	if _, err := Parse("edge.hcl", []byte(jobWith("", `jsonencode(`+strings.Repeat("[", n)+strings.Repeat("]", n)+`)`)), nil); err != nil {
		t.Fatalf("%d nested brackets: %v", n, err)
	}
}

// bombs are small files whose evaluation multiplies: before the budget,
// "for" alone took 3.5 GB and 43 s.
func bombs() map[string]string {
	ten := "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]"
	nestedFor := "x"
	for i := range 8 {
		nestedFor = fmt.Sprintf("[for x%d in %s : %s]", i, ten, nestedFor)
	}
	nestedFor = strings.ReplaceAll(nestedFor, ": x]", ": 1]")
	doubling := "locals {\n  s0 = \"" + strings.Repeat("x", 100) + "\"\n"
	for i := 1; i <= 12; i++ {
		doubling += fmt.Sprintf("  s%d = \"%s\"\n", i, strings.Repeat(fmt.Sprintf("${local.s%d}", i-1), 10))
	}
	doubling += "}\n"
	return map[string]string{
		"nested for":   jobWith("", "jsonencode("+nestedFor+")"),
		"template for": jobWith("locals { l = "+ten+" }", `"%{ for a in local.l }%{ for b in local.l }%{ for c in local.l }%{ for d in local.l }%{ for e in local.l }%{ for f in local.l }x%{ endfor }%{ endfor }%{ endfor }%{ endfor }%{ endfor }%{ endfor }"`),
		"doubling":     jobWith(doubling, "local.s12"),
		"repeated arg": jobWith("locals {\n s = \""+strings.Repeat("y", 1000)+"\"\n t = join(\"\", [for i in "+ten+" : local.s])\n u = join(\"\", [for i in "+ten+" : local.t])\n v = join(\"\", [for i in "+ten+" : local.u])\n w = join(\"\", [for i in "+ten+" : local.v])\n}", "local.w"),
		"tuple of big": jobWith("locals { s = \""+strings.Repeat("y", 512<<10)+"\" }", "join(\"\", ["+strings.Repeat("local.s, ", 200)+"])"),
	}
}

func TestEvaluationBombsRefused(t *testing.T) {
	for name, src := range bombs() {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Parse("bomb.hcl", []byte(src), nil)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes of file: %v in %v, %d MiB allocated", len(src), err, took, alloc>>20)
			if err == nil {
				t.Fatal("parsed")
			}
			// On a loaded machine the time limit may come first.
			if !strings.Contains(err.Error(), "bomb.hcl:") || !strings.Contains(err.Error(), fmt.Sprintf("more than %d MiB of values", MaxEvalBytes>>20)) && !strings.Contains(err.Error(), "takes longer than") {
				t.Fatalf("error = %v", err)
			}
			// Allocation, not time, is the assertion: time depends on the
			// machine's load, allocation does not. Evaluation is bounded
			// by MaxEvalBytes; cty's own overhead is a few times that.
			if alloc > 256<<20 {
				t.Fatalf("evaluation allocated %d MiB", alloc>>20)
			}
		})
	}
}
