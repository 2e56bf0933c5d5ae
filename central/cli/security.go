package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// securityVerbs are the agent identity and signing commands (docs/security.md).
func securityVerbs() map[string]verb {
	return map[string]verb{
		"node join-token create":  {"Create a join token agents enrol with; its secret is shown only now", "[-description TEXT] [-ttl DURATION] [options]", (*env).joinTokenCreate},
		"node join-token list":    {"List join tokens: accessor, description, created, expires, uses", "[options]", (*env).joinTokenList},
		"node join-token delete":  {"Delete a join token: agents can no longer enrol with it", "[options] ACCESSOR", (*env).joinTokenDelete},
		"node revoke":             {"Revoke an enrolled node's MQTT login (it is disconnected at once)", "[options] NODE_ID", (*env).nodeRevoke},
		"mqtt export-auth":        {"Write a Mosquitto password_file and acl_file (or, -format nats, a NATS authorization block) with central's broker rules", "-dir DIR [-format mosquitto|nats]", (*env).mqttExportAuth},
		"operator keyring rotate": {"Make a new signing key active, endorsed by the previous one (which keeps co-signing)", "[options]", (*env).keyringRotate},
	}
}

func (e *env) joinTokenCreate(args []string) int {
	fs := e.flags()
	desc := fs.String("description", "", "what the token is for")
	ttl := fs.Duration("ttl", 0, "how long the token enrols agents (e.g. 24h; 0: until deleted)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	if *ttl < 0 {
		fmt.Fprintf(e.stderr, "node join-token create: -ttl %s is negative: give a duration such as 24h, or 0 for no expiry\n", *ttl)
		return exitUsage
	}
	q := url.Values{"description": {*desc}}
	if *ttl > 0 {
		q.Set("ttl", ttl.String())
	}
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, http.MethodPost, "/v1/security/join-token", q, nil)
	if err != nil {
		return e.fail("creating join token", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var out struct {
		Secret   string `json:"secret"`
		Accessor string `json:"accessor"`
		Expires  int64  `json:"expires"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return e.fail("creating join token", err)
	}
	fmt.Fprintf(e.stdout, "Join token: %s\nAccessor:   %s\nExpires:    %s\n"+
		"Start agents with the token in a file only root can read (not -join-token: ps shows it to every user):\n"+
		"  agent -join-token-file /etc/tether/join-token -central %s\n",
		out.Secret, out.Accessor, formatMillis(out.Expires, "never"), e.address)
	return exitOK
}

// joinTokenInfo is one row of GET /v1/security/join-tokens.
type joinTokenInfo struct {
	Accessor    string `json:"accessor"`
	Description string `json:"description"`
	Created     int64  `json:"created"`
	Expires     int64  `json:"expires"`
	Uses        uint64 `json:"uses"`
}

func (e *env) joinTokenList(args []string) int {
	fs := e.flags()
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var list []joinTokenInfo
	b, _, err := e.get(ctx, "/v1/security/join-tokens", nil, &list)
	if err != nil {
		return e.fail("listing join tokens", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	rows := [][]string{{"Accessor", "Description", "Created", "Expires", "Uses"}}
	now := e.now().UnixMilli()
	for _, t := range list {
		exp := formatMillis(t.Expires, "never")
		if t.Expires != 0 && now >= t.Expires {
			exp += " (expired)"
		}
		desc := t.Description
		if desc == "" {
			desc = "-"
		}
		rows = append(rows, []string{t.Accessor, desc, formatMillis(t.Created, "-"), exp, strconv.FormatUint(t.Uses, 10)})
	}
	table(e.stdout, rows)
	return exitOK
}

func (e *env) joinTokenDelete(args []string) int {
	return e.deleteByID(args, "/v1/security/join-token/", "deleting join token",
		"Join token %s deleted: agents can no longer enrol with it (enrolled agents keep their logins)\n")
}

// formatMillis prints a unix-ms time, or none for 0.
func formatMillis(ms int64, none string) string {
	if ms == 0 {
		return none
	}
	return time.UnixMilli(ms).Format(timeFormat)
}

func (e *env) nodeRevoke(args []string) int {
	return e.deleteByID(args, "/v1/security/node/", "revoking node",
		"Node %s revoked: its MQTT login is gone (re-export the Mosquitto auth files at sites)\n")
}

// deleteByID runs a verb whose one argument is an id: DELETE path+id, then
// done (a format with the id) on success.
func (e *env) deleteByID(args []string, path, what, done string) int {
	fs := e.flags()
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	if _, _, err := e.call(ctx, http.MethodDelete, path+url.PathEscape(fs.Arg(0)), nil, nil); err != nil {
		return e.fail(what, err)
	}
	fmt.Fprintf(e.stdout, done, fs.Arg(0))
	return exitOK
}

func (e *env) mqttExportAuth(args []string) int {
	fs := e.flags()
	dir := fs.String("dir", "", "directory to write password_file and acl_file (or tether-auth.conf) into")
	format := fs.String("format", "mosquitto", "mosquitto (password_file, acl_file) or nats (tether-auth.conf, an authorization block for nats-server.conf)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	if *dir == "" {
		fmt.Fprintln(e.stderr, "mqtt export-auth: -dir is required (where to write password_file and acl_file)")
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	switch *format {
	case "mosquitto":
	case "nats":
		var out struct {
			Conf string `json:"conf"`
		}
		if _, _, err := e.get(ctx, "/v1/security/nats", nil, &out); err != nil {
			return e.fail("exporting broker auth", err)
		}
		if err := writeFiles(*dir, map[string]string{natsAuthFile: out.Conf}); err != nil {
			return e.fail("exporting broker auth", err)
		}
		fmt.Fprintf(e.stdout, "Wrote %s\nOn every NATS node: include %q in nats-server.conf (outside any block), then reload (nats-server --signal reload) (docs/nats.md)\n",
			filepath.Join(*dir, natsAuthFile), natsAuthFile)
		return exitOK
	default:
		fmt.Fprintf(e.stderr, "mqtt export-auth: -format %q: use mosquitto or nats\n", *format)
		return exitUsage
	}
	var out struct {
		PasswordFile string `json:"password_file"`
		ACLFile      string `json:"acl_file"`
	}
	if _, _, err := e.get(ctx, "/v1/security/mosquitto", nil, &out); err != nil {
		return e.fail("exporting broker auth", err)
	}
	if err := writeAuthFiles(*dir, out.PasswordFile, out.ACLFile); err != nil {
		return e.fail("exporting broker auth", err)
	}
	fmt.Fprintf(e.stdout, "Wrote %s and %s\nIn mosquitto.conf: allow_anonymous false, use_username_as_clientid true, password_file and acl_file pointing at them\n",
		filepath.Join(*dir, "password_file"), filepath.Join(*dir, "acl_file"))
	return exitOK
}

func writeAuthFiles(dir, pw, acl string) error {
	return writeFiles(dir, map[string]string{"password_file": pw, "acl_file": acl})
}

// natsAuthFile is the file `mqtt export-auth -format nats` writes.
const natsAuthFile = "tether-auth.conf"

// writeFiles writes each file (name → body) into dir, mode 0600, each
// replaced at once (written aside, then renamed).
func writeFiles(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p+".tmp", []byte(body), 0o600); err != nil {
			return err
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) keyringRotate(args []string) int {
	fs := e.flags()
	brokerPW := fs.Bool("broker-password", false, "also give central's own broker login a new password (after a theft; re-export Mosquitto's files afterwards)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	path := "/v1/security/keyring/rotate"
	if *brokerPW {
		path += "?broker_password=true"
	}
	b, _, err := e.call(ctx, http.MethodPost, path, nil, nil)
	if err != nil {
		return e.fail("rotating the signing key", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var out struct {
		ActiveKey string `json:"active_key"`
		Index     uint64 `json:"index"`
	}
	json.Unmarshal(b, &out)
	fmt.Fprintf(e.stdout, "Signing key %s (key %d) is active, endorsed by the previous key, which keeps co-signing until the next rotation\nEnrolled agents fetch the endorsement chain from GET /v1/security/keyring and re-pin it\n", out.ActiveKey, out.Index)
	if *brokerPW {
		fmt.Fprintf(e.stdout, "Central's broker login has a new password; sessions with the old one are ended. Where sites run Mosquitto, export its files again: central mqtt export-auth -dir DIR\n")
	}
	return exitOK
}
