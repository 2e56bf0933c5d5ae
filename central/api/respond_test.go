package api

import (
	"encoding/json"
	"testing"
)

func TestEmptySlices(t *testing.T) {
	type inner struct {
		L []int `json:"l"`
	}
	type outer struct {
		A    []string          `json:"a"`
		M    map[string]string `json:"m"`
		P    *inner            `json:"p"`
		Nil  *inner            `json:"nil"`
		Skip []int             `json:"-"`
		I    []inner           `json:"i"`
		B    []byte            `json:"b"`
		Any  any               `json:"any"`
	}
	orig := &outer{P: &inner{}, I: []inner{{}}}
	b, err := json.Marshal(emptySlices(orig))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[],"m":{},"p":{"l":[]},"nil":null,"i":[{"l":[]}],"b":null,"any":null}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if orig.A != nil || orig.P.L != nil || orig.I[0].L != nil {
		t.Error("emptySlices modified its input")
	}
	if b, _ := json.Marshal(emptySlices([]int(nil))); string(b) != "[]" {
		t.Errorf("top-level nil slice = %s", b)
	}
}
