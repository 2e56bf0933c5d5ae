// Package taskenv builds a task's environment and resolves ${...}
// references in its env and driver config, as Nomad does on its clients.
//
//	env := taskenv.Build(alloc, task, node, dirs, os.LookupEnv)
//	cfg := env.ReplaceAny(task.Config)   // strings in maps and lists, recursively
//
// Runtime variables are set under both prefixes, TETHER_ and NOMAD_
// (TETHER_ALLOC_ID and NOMAD_ALLOC_ID, ...). Names built from a port label
// or a meta key are set as written and cleaned as Nomad cleans them
// (CleanName), and with '.' as '_' too: port "public-api" gives
// NOMAD_PORT_public-api and NOMAD_PORT_public_api, meta "release.channel"
// NOMAD_META_release.channel and NOMAD_META_release_channel. References
// resolve as:
//
//	${NOMAD_*} ${TETHER_*}      the task's runtime environment
//	${attr.X}                   node attribute X (attr.cpu.arch)
//	${node.unique.id} ${node.unique.name} ${node.datacenter} ${node.region}
//	${meta.X}                   node meta X
//	${env.X}                    the task's environment, then the agent's
//
// Anything else is left as written.
package taskenv
