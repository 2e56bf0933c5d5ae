package protocol

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func init() {
	golden["desired_health"] = &Desired{V: Version, NodeID: "n1", Index: 78, Time: 1700000000300, Allocs: []DesiredAlloc{{
		ID: "a2", JobID: "web", JobVersion: 3, TaskGroup: "g", DesiredStatus: DesiredRun,
		Tasks: []Task{{Name: "web", Driver: "exec", Services: []Service{{Name: "web", PortLabel: "http", Checks: []Check{{
			Type: "http", Path: "/health", IntervalMs: 1000, TimeoutMs: 500,
			RestartLimit: 3, RestartGraceMs: 10000, RestartIgnoreWarnings: true}}}}}},
		Health:       &HealthPolicy{Mode: HealthChecks, MinHealthyMs: 10000, DeadlineMs: 300000},
		DeploymentID: "d1",
	}}}
	golden["update_health"] = &Update{V: Version, Allocs: []AllocUpdate{{
		Seq: 11, AllocID: "a2", ClientStatus: AllocRunning, Time: 1700000000500, JobVersion: 3,
		Health: &AllocHealth{Healthy: false, Time: 1700000000499, Reason: "Task not running for min_healthy_time of 10s by healthy_deadline of 5m0s", DeploymentID: "d1"},
	}}}
}

// The new keys decode back to the same values, and the fuzz corpus holds
// a seed with each of them.
func TestHealthKeysRoundTrip(t *testing.T) {
	for _, name := range []string{"desired_health", "update_health"} {
		b, err := Encode(golden[name])
		if err != nil {
			t.Fatal(err)
		}
		out := newOf(golden[name])
		if err := Decode(b, out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(out, golden[name]) {
			t.Fatalf("%s: round trip changed the message:\n got %#v\nwant %#v", name, out, golden[name])
		}
	}
	for _, seed := range []string{"FuzzDecodeDesired/seed-health", "FuzzDecodeUpdate/seed-health"} {
		if _, err := os.Stat(filepath.Join("testdata", "fuzz", seed)); err != nil {
			t.Errorf("fuzz seed missing: %v", err)
		}
	}
}

// An agent built before these keys refuses them (the decoder rejects
// unknown fields): that is why agents are upgraded before central.
func TestHealthKeysUnknownToOlderDecoders(t *testing.T) {
	type oldAllocUpdate struct {
		Seq          uint64 `cbor:"0,keyasint"`
		AllocID      string `cbor:"1,keyasint"`
		ClientStatus string `cbor:"2,keyasint"`
		Time         int64  `cbor:"5,keyasint"`
	}
	b, _ := Encode(&AllocUpdate{Seq: 1, AllocID: "a", Health: &AllocHealth{Healthy: true, DeploymentID: "d"}})
	var old oldAllocUpdate
	if without, _ := Encode(&AllocUpdate{Seq: 1, AllocID: "a"}); DecodeValue(without, &old) != nil {
		t.Fatal("the older shape does not decode an update without health")
	}
	if err := DecodeValue(b, &old); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an older decoder accepted the health key: %v", err)
	}
}
