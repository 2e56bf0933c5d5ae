package jobspec

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckDispatch(t *testing.T) {
	parent := func(payload string) *Job {
		return &Job{ID: "render", Type: JobTypeBatch, Parameterized: &Parameterized{
			Payload: payload, MetaRequired: []string{"x"}, MetaOptional: []string{"colour"}}}
	}
	stopped := parent(DispatchPayloadOptional)
	stopped.Stop = true
	child := parent(DispatchPayloadOptional)
	child.ParentID = "render"
	big := make([]byte, DispatchPayloadSizeLimit+1)
	for _, tc := range []struct {
		name    string
		job     *Job
		payload []byte
		meta    map[string]string
		want    string // "" accepted
	}{
		{"ok", parent(DispatchPayloadOptional), []byte("{}"), map[string]string{"x": "1"}, ""},
		{"ok without payload", parent(DispatchPayloadOptional), nil, map[string]string{"x": "1", "colour": "red"}, ""},
		{"exactly the limit", parent(DispatchPayloadRequired), big[:DispatchPayloadSizeLimit], map[string]string{"x": "1"}, ""},
		{"not parameterized", &Job{ID: "web"}, nil, nil, `job "web" is not a parameterized job`},
		{"a child", child, nil, map[string]string{"x": "1"}, "is not a parameterized job"},
		{"stopped", stopped, nil, map[string]string{"x": "1"}, `job "render" is stopped`},
		{"too big", parent(DispatchPayloadOptional), big, map[string]string{"x": "1"}, "payload is 16385 bytes, over the limit of 16384 bytes"},
		{"forbidden", parent(DispatchPayloadForbidden), []byte("a"), map[string]string{"x": "1"}, `does not take a payload (parameterized payload = "forbidden")`},
		{"required", parent(DispatchPayloadRequired), nil, map[string]string{"x": "1"}, `requires a payload`},
		{"unknown meta", parent(DispatchPayloadOptional), nil, map[string]string{"x": "1", "y": "2", "a": "3"}, "meta keys the job does not accept: a, y (accepted: colour, x)"},
		{"missing meta", parent(DispatchPayloadOptional), nil, map[string]string{"colour": "red"}, "lacks required meta keys: x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDispatch(tc.job, tc.payload, tc.meta)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var de *DispatchRequestError
			if err == nil || !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a DispatchRequestError with %q", err, tc.want)
			}
		})
	}
}

func TestDispatchChild(t *testing.T) {
	p := &Job{ID: "render", Type: JobTypeBatch, Meta: map[string]string{"colour": "blue", "keep": "1"},
		Parameterized: &Parameterized{Payload: DispatchPayloadOptional}, Version: 4, JobModifyIndex: 9, Status: JobStatusRunning}
	id := DispatchID(p.ID, 1700000000, "0123456789abcdef")
	if id != "render/dispatch-1700000000-01234567" {
		t.Fatalf("id %q", id)
	}
	payload := []byte("{}")
	c := DispatchChild(p, id, payload, map[string]string{"colour": "red", "x": "1"})
	payload[0] = 'X'
	switch {
	case c.ID != id || c.Name != id || c.ParentID != "render":
		t.Fatalf("ids: %q %q %q", c.ID, c.Name, c.ParentID)
	case string(c.Payload) != "{}":
		t.Fatalf("payload %q (must be a copy)", c.Payload)
	case c.Meta["colour"] != "red" || c.Meta["keep"] != "1" || c.Meta["x"] != "1":
		t.Fatalf("meta %v: dispatch meta goes over the job's", c.Meta)
	case p.Meta["colour"] != "blue" || len(p.Meta) != 2:
		t.Fatalf("parent meta changed: %v", p.Meta)
	case c.Version != 0 || c.JobModifyIndex != 0 || c.Status != "":
		t.Fatalf("child keeps the parent's version or status: %+v", c)
	case c.IsParent() || !p.IsParent():
		t.Fatal("the child must run, the parent not")
	}
}
