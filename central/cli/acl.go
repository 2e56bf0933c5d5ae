package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/acl"
)

// aclVerbs are the `central acl ...` commands (Nomad's).
func aclVerbs() map[string]verb {
	return map[string]verb{
		"acl bootstrap":     {"Bootstrap the ACL system and print the first management token", "[options]", (*env).aclBootstrap},
		"acl policy apply":  {"Create or update an ACL policy from an HCL file", "[-description TEXT] [options] NAME FILE", (*env).aclPolicyApply},
		"acl policy list":   {"List the ACL policies", "[options]", (*env).aclPolicyList},
		"acl policy info":   {"Show an ACL policy and its rules", "[options] NAME", (*env).aclPolicyInfo},
		"acl policy delete": {"Delete an ACL policy", "[options] NAME", (*env).aclPolicyDelete},
		"acl token create":  {"Create an ACL token; its secret is shown only now", "-name N [-policy P ...] [-type client|management] [-ttl D] [options]", (*env).aclTokenCreate},
		"acl token list":    {"List the ACL tokens (without secrets)", "[options]", (*env).aclTokenList},
		"acl token info":    {"Show an ACL token by accessor ID", "[options] ACCESSOR_ID", (*env).aclTokenInfo},
		"acl token self":    {"Show the token given with -token or CENTRAL_TOKEN", "[options]", (*env).aclTokenSelf},
		"acl token delete":  {"Delete an ACL token by accessor ID", "[options] ACCESSOR_ID", (*env).aclTokenDelete},
	}
}

// aclPolicy mirrors acl.Policy.
type aclPolicy struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Rules       string `json:"rules"`
	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

func (e *env) aclArgs(args []string, min, max int, extra func(fs *flag.FlagSet)) (fs *flag.FlagSet, code int, ok bool) {
	fs = e.flags()
	if extra != nil {
		extra(fs)
	}
	if code, ok := e.parse(fs, args); !ok {
		return fs, code, false
	}
	if !e.nargs(fs, min, max) {
		return fs, exitUsage, false
	}
	return fs, 0, true
}

func (e *env) printToken(t acl.TokenView) {
	pol := strings.Join(t.Policies, ", ")
	if t.Type == acl.TypeManagement {
		pol = "n/a"
	}
	expiry := "<none>"
	if t.ExpirationTime != nil {
		expiry = t.ExpirationTime.Local().Format(time.RFC3339)
	}
	secret := t.SecretID
	if secret == "" {
		secret = "<hidden>"
	}
	kv(e.stdout, [][2]string{
		{"Accessor ID", t.AccessorID},
		{"Secret ID", secret},
		{"Name", t.Name},
		{"Type", t.Type},
		{"Global", strconv.FormatBool(t.Global)},
		{"Create Time", t.CreateTime.Local().Format(time.RFC3339)},
		{"Expiry Time", expiry},
		{"Create Index", strconv.FormatUint(t.CreateIndex, 10)},
		{"Modify Index", strconv.FormatUint(t.ModifyIndex, 10)},
		{"Policies", pol},
	})
}

func (e *env) tokenCall(what, method, path string, body any) int {
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, method, path, nil, body)
	if err != nil {
		return e.fail(what, err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var t acl.TokenView
	if err := json.Unmarshal(b, &t); err != nil {
		return e.fail(what, fmt.Errorf("decoding response: %w", err))
	}
	e.printToken(t)
	return exitOK
}

func (e *env) aclBootstrap(args []string) int {
	if _, code, ok := e.aclArgs(args, 0, 0, func(fs *flag.FlagSet) { fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is") }); !ok {
		return code
	}
	return e.tokenCall("bootstrapping ACLs", http.MethodPost, "/v1/acl/bootstrap", nil)
}

func (e *env) aclPolicyApply(args []string) int {
	var desc string
	fs, code, ok := e.aclArgs(args, 2, 2, func(fs *flag.FlagSet) {
		fs.StringVar(&desc, "description", "", "what the policy is for")
	})
	if !ok {
		return code
	}
	name, file := fs.Arg(0), fs.Arg(1)
	if !acl.ValidName(name) {
		return e.fail("applying policy", fmt.Errorf("policy name %q: use 1-128 letters, digits, '-' or '_'", name))
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return e.fail("reading policy file", err)
	}
	if _, err := acl.Parse(file, src); err != nil { // file:line errors before the round trip
		return e.fail("parsing policy", err)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	if _, _, err := e.call(ctx, http.MethodPut, "/v1/acl/policy/"+url.PathEscape(name), nil,
		map[string]string{"description": desc, "rules": string(src)}); err != nil {
		return e.fail("writing policy", err)
	}
	fmt.Fprintf(e.stdout, "Successfully wrote %q ACL policy!\n", name)
	return exitOK
}

func (e *env) aclPolicyList(args []string) int {
	if _, code, ok := e.aclArgs(args, 0, 0, func(fs *flag.FlagSet) { e.readFlags(fs) }); !ok {
		return code
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var list []aclPolicy
	b, _, err := e.get(ctx, "/v1/acl/policies", nil, &list)
	if err != nil {
		return e.fail("listing policies", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "No policies found")
		return exitOK
	}
	rows := [][]string{{"Name", "Description"}}
	for _, p := range list {
		rows = append(rows, []string{p.Name, p.Description})
	}
	table(e.stdout, rows)
	return exitOK
}

func (e *env) aclPolicyInfo(args []string) int {
	fs, code, ok := e.aclArgs(args, 1, 1, func(fs *flag.FlagSet) { e.readFlags(fs) })
	if !ok {
		return code
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var p aclPolicy
	b, _, err := e.get(ctx, "/v1/acl/policy/"+url.PathEscape(fs.Arg(0)), nil, &p)
	if err != nil {
		return e.fail("reading policy", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	kv(e.stdout, [][2]string{
		{"Name", p.Name},
		{"Description", p.Description},
		{"CreateIndex", strconv.FormatUint(p.CreateIndex, 10)},
		{"ModifyIndex", strconv.FormatUint(p.ModifyIndex, 10)},
	})
	fmt.Fprintf(e.stdout, "\nRules\n\n%s\n", strings.TrimRight(p.Rules, "\n"))
	return exitOK
}

func (e *env) aclPolicyDelete(args []string) int {
	fs, code, ok := e.aclArgs(args, 1, 1, nil)
	if !ok {
		return code
	}
	ctx, cancel := e.ctx()
	defer cancel()
	if _, _, err := e.call(ctx, http.MethodDelete, "/v1/acl/policy/"+url.PathEscape(fs.Arg(0)), nil, nil); err != nil {
		return e.fail("deleting policy", err)
	}
	fmt.Fprintf(e.stdout, "Successfully deleted %q ACL policy!\n", fs.Arg(0))
	return exitOK
}

func (e *env) aclTokenCreate(args []string) int {
	var name, typ string
	var ttl time.Duration
	var global bool
	var policies stringList
	if _, code, ok := e.aclArgs(args, 0, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "name of the token")
		fs.StringVar(&typ, "type", acl.TypeClient, "client or management")
		fs.Var(&policies, "policy", "policy to attach; repeatable (client tokens need one)")
		fs.DurationVar(&ttl, "ttl", 0, "the token expires after this long (e.g. 24h); 0 = never")
		fs.BoolVar(&global, "global", false, "accepted for Nomad compatibility (one region)")
		fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is")
	}); !ok {
		return code
	}
	if typ != acl.TypeClient && typ != acl.TypeManagement {
		return e.usageFail("creating token", fmt.Errorf("-type %q: want client or management", typ))
	}
	if typ == acl.TypeClient && len(policies) == 0 {
		return e.usageFail("creating token", fmt.Errorf("a client token needs at least one -policy (or use -type management)"))
	}
	req := map[string]any{"name": name, "type": typ, "policies": []string(policies), "global": global}
	if ttl > 0 {
		req["expiration_ttl"] = ttl.String()
	}
	return e.tokenCall("creating token", http.MethodPost, "/v1/acl/token", req)
}

func (e *env) aclTokenList(args []string) int {
	if _, code, ok := e.aclArgs(args, 0, 0, func(fs *flag.FlagSet) { e.readFlags(fs) }); !ok {
		return code
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var list []acl.TokenView
	b, _, err := e.get(ctx, "/v1/acl/tokens", nil, &list)
	if err != nil {
		return e.fail("listing tokens", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	rows := [][]string{{"Name", "Type", "Global", "Accessor ID", "Expired"}}
	now := e.now()
	for _, t := range list {
		expired := t.ExpirationTime != nil && !now.Before(*t.ExpirationTime)
		rows = append(rows, []string{t.Name, t.Type, strconv.FormatBool(t.Global), t.AccessorID, strconv.FormatBool(expired)})
	}
	table(e.stdout, rows)
	return exitOK
}

func (e *env) aclTokenInfo(args []string) int {
	fs, code, ok := e.aclArgs(args, 1, 1, func(fs *flag.FlagSet) { fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is") })
	if !ok {
		return code
	}
	return e.tokenCall("reading token", http.MethodGet, "/v1/acl/token/"+url.PathEscape(fs.Arg(0)), nil)
}

func (e *env) aclTokenSelf(args []string) int {
	if _, code, ok := e.aclArgs(args, 0, 0, func(fs *flag.FlagSet) { fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is") }); !ok {
		return code
	}
	return e.tokenCall("reading token", http.MethodGet, "/v1/acl/token/self", nil)
}

func (e *env) aclTokenDelete(args []string) int {
	fs, code, ok := e.aclArgs(args, 1, 1, nil)
	if !ok {
		return code
	}
	ctx, cancel := e.ctx()
	defer cancel()
	if _, _, err := e.call(ctx, http.MethodDelete, "/v1/acl/token/"+url.PathEscape(fs.Arg(0)), nil, nil); err != nil {
		return e.fail("deleting token", err)
	}
	fmt.Fprintf(e.stdout, "Token %s successfully deleted\n", fs.Arg(0))
	return exitOK
}
