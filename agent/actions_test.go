package agent

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

func TestCheckActions(t *testing.T) {
	base := func(acts ...protocol.AllocAction) *protocol.DesiredAlloc {
		return &protocol.DesiredAlloc{ID: "a1", DesiredStatus: protocol.DesiredRun, Actions: acts,
			Tasks: []protocol.Task{{Name: "t", Driver: "exec"}}}
	}
	many := make([]protocol.AllocAction, protocol.MaxAllocActions+1)
	for i := range many {
		many[i] = protocol.AllocAction{Seq: uint64(i + 1), Kind: protocol.ActionRestart}
	}
	for _, c := range []struct {
		da   *protocol.DesiredAlloc
		want string // "" accepted
	}{
		{base(protocol.AllocAction{Seq: 1, Kind: protocol.ActionRestart}, protocol.AllocAction{Seq: 2, Kind: protocol.ActionSignal, Signal: "SIGHUP"}), ""},
		{base(protocol.AllocAction{Seq: 1, Kind: "reboot"}), `unknown kind "reboot"`},
		{base(protocol.AllocAction{Seq: 1, Kind: protocol.ActionSignal}), "is not a signal name"},
		{base(protocol.AllocAction{Seq: 1, Kind: protocol.ActionSignal, Signal: strings.Repeat("X", 17)}), "is not a signal name"},
		{base(many...), "over the limit"},
	} {
		err := checkAlloc(c.da)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("actions %+v: %v, want %q", c.da.Actions, err, c.want)
		}
	}
	da := base(protocol.AllocAction{Seq: 4, Kind: protocol.ActionRestart}, protocol.AllocAction{Seq: 7, Kind: protocol.ActionRestart})
	if lastAction(da) != 7 || len(newActions(da, 4)) != 1 || len(newActions(da, 7)) != 0 || len(newActions(da, 0)) != 2 {
		t.Fatalf("lastAction %d, newActions after 4: %+v", lastAction(da), newActions(da, 4))
	}
}
