package cli

import (
	"fmt"
	"strconv"
	"strings"
)

type member struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Status  string `json:"status"`
	Leader  bool   `json:"leader"`
}

func (e *env) members(args []string) ([]member, []byte, int, bool) {
	fs := e.flags()
	fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is")
	if code, ok := e.parse(fs, args); !ok {
		return nil, nil, code, false
	}
	if !e.nargs(fs, 0, 0) {
		return nil, nil, exitUsage, false
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var resp struct {
		Members []member `json:"members"`
	}
	b, _, err := e.get(ctx, "/v1/agent/members", nil, &resp)
	if err != nil {
		return nil, nil, e.fail("querying members", err), false
	}
	return resp.Members, b, 0, true
}

func (e *env) serverMembers(args []string) int {
	ms, body, code, ok := e.members(args)
	if !ok {
		return code
	}
	if e.json {
		return e.printJSON(body)
	}
	versions := map[string]string{}
	if rc, _, err := e.raftConfiguration(); err == nil {
		for _, p := range rc.Servers {
			versions[p.ID] = p.RaftProtocol
		}
	}
	rows := [][]string{{"Name", "Address", "Status", "Leader", "Raft Version"}}
	for _, m := range ms {
		v := versions[m.Name]
		if v == "" {
			v = "-"
		}
		rows = append(rows, []string{m.Name, m.Address, m.Status, strconv.FormatBool(m.Leader), v})
	}
	table(e.stdout, rows)
	return exitOK
}

func (e *env) raftListPeers(args []string) int {
	fs := e.flags()
	fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	rc, body, err := e.raftConfiguration()
	if isNotFound(err) {
		return e.peersFromMembers() // a server without the operator endpoints
	}
	if err != nil {
		return e.fail("querying the Raft configuration", err)
	}
	if e.json {
		return e.printJSON(body)
	}
	rows := [][]string{{"Node", "ID", "Address", "State", "Voter", "Raft Protocol"}}
	for _, p := range rc.Servers {
		state := "follower"
		if p.Leader {
			state = "leader"
		}
		rows = append(rows, []string{p.Node, p.ID, p.Address, state, boolStr(p.Voter), p.RaftProtocol})
	}
	table(e.stdout, rows)
	return exitOK
}

func (e *env) peersFromMembers() int {
	asJSON := e.json
	ms, body, code, ok := e.members([]string{"-address", e.address})
	if !ok {
		return code
	}
	if asJSON {
		return e.printJSON(body)
	}
	rows := [][]string{{"Node", "Address", "State", "Voter"}}
	for _, m := range ms {
		state := "follower"
		if m.Leader {
			state = "leader"
		}
		rows = append(rows, []string{m.Name, m.Address, state, "true"})
	}
	table(e.stdout, rows)
	return exitOK
}

// operatorRaft is reached for "operator raft" without a known subcommand.
func (e *env) operatorRaft(args []string) int {
	if len(args) > 0 && !isHelp(args[0]) {
		fmt.Fprintf(e.stderr, "Unknown command %q.\n\n", "operator raft "+strings.Join(args, " "))
	}
	fmt.Fprintf(e.stderr, "Usage: central operator raft list-peers|remove-peer [options]\n")
	if len(args) > 0 && isHelp(args[0]) {
		return exitOK
	}
	return exitUsage
}
