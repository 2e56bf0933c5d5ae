// Package config owns the agent's configuration: command-line flags, the
// config file (a flat subset of HCL), defaults and validation.
//
// A Config is built once at start and never changed:
//
//	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
//	f := config.RegisterFlags(fs)     // -config, -name, -broker, ...
//	fs.Parse(args)
//	cfg, err := f.Load()              // file (if -config), then flags over it, then Validate
//
// The config file parser (ParseFile) is hand-written instead of using
// hashicorp/hcl/v2: hclsimple adds 2.3 MB to the stripped agent, and the
// agent's file is flat (key = value, one meta block). See docs/agent.md.
package config
