package jobspec

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A driver config as a job file gives it (int64 for whole numbers), through
// JSON and back, is the same config.
func TestNormalizeJSONNumbers(t *testing.T) {
	config := map[string]any{
		"command": "/bin/echo",
		"nums":    []any{int64(1), 2.5, int64(-3)},
		"nested":  map[string]any{"port": int64(8080), "ratio": 0.5, "list": []any{map[string]any{"n": int64(1)}}},
		"flag":    true,
	}
	job := &Job{ID: "web", TaskGroups: []*TaskGroup{{Name: "g", Tasks: []*Task{{Name: "t", Driver: "exec", Config: config}}}}}
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	var back Job
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(back.TaskGroups[0].Tasks[0].Config, config) {
		t.Fatal("encoding/json kept int64: the test shows nothing")
	}
	back.NormalizeJSONNumbers()
	if got := back.TaskGroups[0].Tasks[0].Config; !reflect.DeepEqual(got, config) {
		t.Fatalf("config through JSON:\n%#v\nwant\n%#v", got, config)
	}
}
