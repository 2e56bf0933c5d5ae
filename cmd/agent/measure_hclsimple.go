//go:build measure_hclsimple

// This file is built only with -tags measure_hclsimple, to measure what
// reading agent.hcl with hashicorp/hcl/v2's hclsimple would cost the agent
// (the figure in docs/agent.md, which is why agent/config has its own
// parser). The release agent never contains it.

package main

import "github.com/hashicorp/hcl/v2/hclsimple"

type measureHCLConfig struct {
	Name       string   `hcl:"name,optional"`
	Datacenter string   `hcl:"datacenter,optional"`
	Brokers    []string `hcl:"brokers,optional"`
}

func init() {
	var c measureHCLConfig
	src := []byte("name = \"n1\"\ndatacenter = \"dc1\"\nbrokers = [\"tcp://127.0.0.1:1883\"]\n")
	if err := hclsimple.Decode("agent.hcl", src, nil, &c); err != nil {
		panic("BUG: " + err.Error())
	}
}
