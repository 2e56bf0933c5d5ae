package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// securityVerbs are the agent identity and signing commands (docs/security.md).
func securityVerbs() map[string]verb {
	return map[string]verb{
		"node join-token create":  {"Create a join token agents enrol with; its secret is shown only now", "[-description TEXT] [options]", (*env).joinTokenCreate},
		"node revoke":             {"Revoke an enrolled node's MQTT login (it is disconnected at once)", "[options] NODE_ID", (*env).nodeRevoke},
		"mqtt export-auth":        {"Write a Mosquitto password_file and acl_file with central's broker rules", "-dir DIR [options]", (*env).mqttExportAuth},
		"operator keyring rotate": {"Make a new signing key active; the previous one keeps co-signing", "[options]", (*env).keyringRotate},
	}
}

func (e *env) joinTokenCreate(args []string) int {
	fs := e.flags()
	desc := fs.String("description", "", "what the token is for")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, http.MethodPost, "/v1/security/join-token", url.Values{"description": {*desc}}, nil)
	if err != nil {
		return e.fail("creating join token", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return e.fail("creating join token", err)
	}
	fmt.Fprintf(e.stdout, "Join token: %s\nStart agents with -join-token %s -central %s\n", out.Secret, out.Secret, e.address)
	return exitOK
}

func (e *env) nodeRevoke(args []string) int {
	fs := e.flags()
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	if _, _, err := e.call(ctx, http.MethodDelete, "/v1/security/node/"+url.PathEscape(fs.Arg(0)), nil, nil); err != nil {
		return e.fail("revoking node", err)
	}
	fmt.Fprintf(e.stdout, "Node %s revoked: its MQTT login is gone (re-export the Mosquitto auth files at sites)\n", fs.Arg(0))
	return exitOK
}

func (e *env) mqttExportAuth(args []string) int {
	fs := e.flags()
	dir := fs.String("dir", "", "directory to write password_file and acl_file into")
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
	fmt.Fprintf(e.stdout, "Wrote %s and %s\nIn mosquitto.conf: allow_anonymous false, password_file and acl_file pointing at them\n",
		filepath.Join(*dir, "password_file"), filepath.Join(*dir, "acl_file"))
	return exitOK
}

func writeAuthFiles(dir, pw, acl string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name, body string
	}{{"password_file", pw}, {"acl_file", acl}} {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p+".tmp", []byte(f.body), 0o600); err != nil {
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
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, http.MethodPost, "/v1/security/keyring/rotate", nil, nil)
	if err != nil {
		return e.fail("rotating the signing key", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var out struct {
		ActiveKey string `json:"active_key"`
	}
	json.Unmarshal(b, &out)
	fmt.Fprintf(e.stdout, "Signing key %s is active; the previous key keeps co-signing until the next rotation\n", out.ActiveKey)
	return exitOK
}
