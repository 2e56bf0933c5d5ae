package drivers

import (
	"reflect"
	"testing"
	"time"
)

func TestConfigStrings(t *testing.T) {
	tests := []struct {
		name    string
		v       any
		want    []string
		wantErr bool
	}{
		{"any list", []any{"-c", int64(8080), uint64(1), float64(1.5), true}, []string{"-c", "8080", "1", "1.5", "true"}, false},
		{"string list", []string{"a"}, []string{"a"}, false},
		{"not a list", "a b", nil, true},
		{"nested", []any{map[string]any{}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ConfigStrings(map[string]any{"args": tt.v}, "args")
			if (err != nil) != tt.wantErr || !ok {
				t.Fatalf("err = %v ok = %v, wantErr %v", err, ok, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, ok, err := ConfigStrings(map[string]any{}, "args"); ok || err != nil {
		t.Fatalf("absent key: ok=%v err=%v", ok, err)
	}
}

func TestConfigInt(t *testing.T) {
	tests := []struct {
		v       any
		want    int64
		wantErr bool
	}{
		{int64(3), 3, false}, {uint64(4), 4, false}, {float64(5), 5, false}, {"6", 6, false},
		{float64(1.5), 0, true}, {uint64(1 << 63), 0, true}, {"x", 0, true}, {[]any{}, 0, true},
	}
	for _, tt := range tests {
		got, _, err := ConfigInt(map[string]any{"n": tt.v}, "n")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ConfigInt(%#v) = %d, %v; want %d, err %v", tt.v, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestConfigDuration(t *testing.T) {
	tests := []struct {
		v       any
		want    time.Duration
		wantErr bool
	}{
		{"1.5s", 1500 * time.Millisecond, false}, {int64(2), 2 * time.Second, false},
		{float64(0.25), 250 * time.Millisecond, false}, {"soon", 0, true}, {float64(1e300), 0, true},
	}
	for _, tt := range tests {
		got, _, err := ConfigDuration(map[string]any{"d": tt.v}, "d")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ConfigDuration(%#v) = %v, %v; want %v, err %v", tt.v, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCheckConfigKeys(t *testing.T) {
	if err := CheckConfigKeys("exec", map[string]any{"command": "x"}, "command", "args"); err != nil {
		t.Fatal(err)
	}
	err := CheckConfigKeys("exec", map[string]any{"comand": "x"}, "command", "args")
	if err == nil || err.Error() != `exec driver: unknown config key "comand" (known: args, command)` {
		t.Fatalf("err = %v", err)
	}
}
