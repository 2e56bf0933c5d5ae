// Command size prints the agent's footprint table for the boards:
//
//		go run ./bench/size -dist dist -central bin/central -agent bin/agent
//
//	 1. stripped size of every dist/agent-linux-* against the 13 MB goal;
//	 2. where the bytes go: symbol sizes per package (go tool nm -size on an
//	    unstripped build of each target);
//	 3. idle RSS of the native agent after it connected, and of the arm64
//	    agent under qemu-aarch64-static (minus qemu's own baseline);
//	 4. bytes on the wire: per heartbeat, and per idle minute at the IP
//	    level, read from TCP_INFO of a loopback proxy between agent and broker.
//
// It starts a real central (embedded broker) on loopback ports. Numbers go
// into bench/README.md by hand.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const (
	goalSizeMB    = 13.0
	goalRSSMiB    = 12.0
	goalIdleBytes = 900 // per minute per agent, IP level
)

func main() {
	dist := flag.String("dist", "dist", "directory holding agent-linux-* from make cross")
	central := flag.String("central", "bin/central", "central binary")
	agent := flag.String("agent", "bin/agent", "native agent binary")
	window := flag.Duration("window", 2*time.Minute, "idle window the wire bytes and RSS are measured over")
	heartbeat := flag.Duration("heartbeat", 15*time.Second, "agent heartbeat interval (the boards' default)")
	top := flag.Int("top", 12, "packages listed per target")
	skipRun := flag.Bool("sizes-only", false, "only print sizes (no central, no agents)")
	flag.Parse()

	if err := sizes(*dist); err != nil {
		fail(err)
	}
	if err := packages(*top); err != nil {
		fail(err)
	}
	if *skipRun {
		return
	}
	if err := runtimeFootprint(*central, *agent, filepath.Join(*dist, "agent-linux-arm64"), *window, *heartbeat); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "size:", err)
	os.Exit(1)
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func sizes(dist string) error {
	files, _ := filepath.Glob(filepath.Join(dist, "agent-linux-*"))
	if len(files) == 0 {
		return fmt.Errorf("no %s/agent-linux-*: run make cross first", dist)
	}
	sort.Strings(files)
	fmt.Printf("## Stripped agent size (goal <= %.0f MB)\n\n| target | bytes | MB | goal |\n|---|---|---|---|\n", goalSizeMB)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		mb := float64(fi.Size()) / 1e6
		fmt.Printf("| %s | %d | %.2f | %s |\n", strings.TrimPrefix(filepath.Base(f), "agent-"), fi.Size(), mb, verdict(mb <= goalSizeMB))
	}
	fmt.Println()
	return nil
}
