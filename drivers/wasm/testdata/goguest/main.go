// Command goguest is the wasm driver's Go test guest (GOOS=wasip1
// GOARCH=wasm): it prints its args and an environment variable,
// writes a file to /alloc, sleeps for -sleep and exits with the code given by -exit.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	exit := flag.Int("exit", 0, "exit code")
	sleep := flag.Duration("sleep", 0, "sleep this long before exiting")
	flag.Parse()
	fmt.Println("go guest args:", flag.Args())
	fmt.Println("env:", os.Getenv("GREETING"))
	if err := os.WriteFile("/alloc/go-guest.txt", []byte("written by go"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(3)
	}
	time.Sleep(*sleep)
	os.Exit(*exit)
}
