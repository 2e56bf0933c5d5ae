package broker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tether-edge/tether/protocol"
)

// MosquittoConf lists the mosquitto.conf settings the exported files rely
// on (docs/security.md): no anonymous clients, and each client's ID
// replaced by its username so that no login can take over another's
// session (central's included).
const MosquittoConf = "allow_anonymous false, use_username_as_clientid true"

// MosquittoUser is one login for a Mosquitto password_file.
type MosquittoUser struct {
	Username     string
	PasswordHash string // HashPassword format
	NodeID       string // "" for central's own user (full access)
}

// MosquittoFiles renders a password_file and an acl_file that give
// Mosquitto exactly the embedded broker's rules (NodeRules): central's
// user reads and writes everything, each node only its own topics, and
// nobody else anything (run Mosquitto with allow_anonymous false). Mosquitto
// applies the acl_file to Wills when it sends them. Client IDs cannot be
// bound to logins in an acl_file: mosquitto.conf needs
// use_username_as_clientid true (MosquittoConf), which replaces every
// client's ID with its username, as the embedded broker requires
// (ClientIDAllowed).
func MosquittoFiles(topics protocol.Topics, users []MosquittoUser) (passwordFile, aclFile string, err error) {
	sort.Slice(users, func(i, j int) bool { return users[i].Username < users[j].Username })
	var pw, acl strings.Builder
	acl.WriteString("# Written by `central mqtt export-auth`; do not edit: re-export instead.\n")
	acl.WriteString("# mosquitto.conf must also say: " + MosquittoConf + "\n")
	for _, u := range users {
		if strings.ContainsAny(u.Username, ":\n\r ") || u.Username == "" || !strings.HasPrefix(u.PasswordHash, "$7$") {
			return "", "", fmt.Errorf("mosquitto export: user %q cannot be written to a password_file", u.Username)
		}
		fmt.Fprintf(&pw, "%s:%s\n", u.Username, u.PasswordHash)
		fmt.Fprintf(&acl, "\nuser %s\n", u.Username)
		if u.NodeID == "" {
			acl.WriteString("topic readwrite #\n")
			continue
		}
		if !protocol.ValidID(u.NodeID) || strings.ContainsAny(u.NodeID, " \n\r") {
			return "", "", fmt.Errorf("mosquitto export: node id %q cannot be written to an acl_file", u.NodeID)
		}
		r := NodeRules{Topics: topics, NodeID: u.NodeID}
		for _, t := range r.Publish() {
			fmt.Fprintf(&acl, "topic write %s\n", t)
		}
		fmt.Fprintf(&acl, "topic write %s/+\n", topics.Logs(u.NodeID))
		fmt.Fprintf(&acl, "topic write %s/+\n", topics.Stats(u.NodeID))
		fmt.Fprintf(&acl, "topic write %s\n", topics.ExecOut(u.NodeID, "+"))
		for _, t := range r.Subscribe() {
			fmt.Fprintf(&acl, "topic read %s\n", t)
		}
		fmt.Fprintf(&acl, "topic read %s#\n", r.ServicePrefix())
	}
	return pw.String(), acl.String(), nil
}
