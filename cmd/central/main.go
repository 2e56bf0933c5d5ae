// Command central is Tether's server and its CLI, like `nomad`:
// `central server`, `central dev`, and the verbs that talk to the HTTP API
// (`central job submit web.hcl`, `central node status`, ...).
package main

import "os"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}
