// Command goguest is the wasm driver's Go test guest (GOOS=wasip1
// GOARCH=wasm): it prints its args and an environment variable, lists
// /alloc, and exits with the code given by -exit.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	exit := flag.Int("exit", 0, "exit code")
	flag.Parse()
	fmt.Println("go guest args:", flag.Args())
	fmt.Println("env:", os.Getenv("GREETING"))
	if err := os.WriteFile("/alloc/go-guest.txt", []byte("written by go"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(3)
	}
	os.Exit(*exit)
}
