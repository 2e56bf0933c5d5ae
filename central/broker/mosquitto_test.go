package broker

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

// TestMosquittoFiles: the acl_file gives each node its own topics, central
// every topic, and says which mosquitto.conf settings it relies on.
func TestMosquittoFiles(t *testing.T) {
	h, _ := HashPassword("pw")
	pw, acl, err := MosquittoFiles(protocol.Topics{}, []MosquittoUser{
		{Username: "n1", PasswordHash: h, NodeID: "n1"}, {Username: "tether-central", PasswordHash: h}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"n1:$7$", "tether-central:$7$"} {
		if !strings.Contains(pw, want) {
			t.Errorf("password_file lacks %q:\n%s", want, pw)
		}
	}
	for _, want := range []string{
		"use_username_as_clientid true",
		"user n1\ntopic write tether/v1/node/n1/hello\n",
		"topic read tether/v1/node/n1/desired\n",
		"user tether-central\ntopic readwrite #\n",
	} {
		if !strings.Contains(acl, want) {
			t.Errorf("acl_file lacks %q:\n%s", want, acl)
		}
	}
}
