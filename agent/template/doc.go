// Package template renders a task's template blocks (Go text/template, in
// the spirit of consul-template as Nomad uses it) from the agent's service
// cache, the task environment and the node's attributes and meta, and
// tells the task runner when a re-render asks for a restart or a signal.
//
// A Manager serves one task; it owns its parsed templates and is driven by
// one goroutine (Run) after the first render:
//
//	m, err := template.New(cfg)     // parse every template: a bad one fails the task
//	err = m.Prerender(ctx)          // wait (bounded) for the services used, render, write, read env files
//	env := m.Env()                  // KEY=VALUE from env = true templates, merged into the task env
//	go m.Run(ctx)                   // for each service change: render again; a changed file →
//	for a := range m.Actions() {}   //   after a random splay: Restart / Signals (change_mode), or just events
//	m.Close()
//
// Functions: service and nomadService ("name", "tag.name", "name@dc")
// return the healthy instances, sorted; env reads the task's environment,
// and attr.X, meta.X and node.* of the node; toJSON, toJSONPretty, join,
// split, contains, toLower, toUpper, trimSpace, replaceAll.
//
// Check parses a template's text as New does, for central to run when a
// job is submitted; functions of Nomad's templates that the agent does not
// have (nomadVar, key, secret, ...) are refused with what to write instead.
//
// text/template/parse parses; internal/eval checks the tree against the
// supported subset and executes it without reflection (docs/RATIONALE.md:
// text/template's executor would cost the agent 1.65 MB).
package template
