// Package corpus loads every job file a user can see in this repository,
// and says how each is submitted and what verdict it must get: the
// examples, the hcl blocks of docs/*.md that hold a job, the parser's
// testdata and jobspec/testdata/nomad-shapes (our own files in the shapes
// Nomad users write, with only the driver changed). The corpus tests of
// jobspec (through jobspec.ParseWith) and of central/server (through
// POST /v1/validate/job and POST /v1/job/<id>/plan) run them all.
//
//	cases, err := corpus.Load(root)
//	for _, c := range cases {
//		opts, err := c.Options()                  // -var, -var-file, NOMAD_VAR_, file()
//		job, warnings, err := jobspec.ParseWith(c.Src, opts)
//		problem := c.Verdict(err == nil, errText) // nil: the verdict the file asks for
//	}
//
// A file's comment lines carry directives:
//
//	# want: text            the file is refused, with text in the error
//	# var: name=value       as -var name=value
//	# var-file: path        as -var-file path (relative to the file)
//	# env: NOMAD_VAR_x=v    as the environment variable NOMAD_VAR_x=v
//	# plan-warn: text       job plan's warnings contain text
//
// Every file without a want line must be accepted.
package corpus
