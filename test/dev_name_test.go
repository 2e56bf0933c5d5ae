package test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// `central dev -name` names the server, as `central server -name` does; it
// used to be replaced by "dev" whatever was given.
func TestDevName(t *testing.T) {
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "central dev", bins.central, "dev", "-name", "lab-1", "-http", httpAddr,
		"-mqtt", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-data-dir", filepath.Join(dir, "data"),
		"-agent", bins.agent)
	eventually(t, 60*time.Second, func() error {
		var resp struct {
			Members []struct {
				Name   string `json:"name"`
				Leader bool   `json:"leader"`
			} `json:"members"`
		}
		if err := getJSON("http://"+httpAddr+"/v1/agent/members", &resp); err != nil {
			return err
		}
		members := resp.Members
		if len(members) != 1 || members[0].Name != "lab-1" || !members[0].Leader {
			return fmt.Errorf("members %+v, want one leader named lab-1", members)
		}
		return nil
	})
}
