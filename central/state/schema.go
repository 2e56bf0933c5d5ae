package state

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Table names. Index(table) takes one of these ("" for the latest overall).
const (
	TableJobs        = "jobs"
	TableJobVersions = "job_versions"
	TableNodes       = "nodes"
	TableAllocs      = "allocs"
	TableEvals       = "evals"
	TableServices    = "services"
	tableIndex       = "index"
)

// tables lists the tables that have a raft index, in snapshot order.
var tables = []string{TableJobVersions, TableJobs, TableNodes, TableEvals, TableAllocs, TableServices, TableACLPolicies, TableACLTokens, TableSecurity, TableDeployments, TableAgentReleases, TableAgentRollouts}

// indexEntry is a row of the "index" table: the raft index at which a table
// last changed.
type indexEntry struct {
	Key   string `json:"key"`
	Value uint64 `json:"value"`
}

// strIndex indexes an object by one or more string parts, each terminated by
// a NUL byte (so ("a","bc") and ("ab","c") differ). Objects for which fn
// reports false are not indexed (the index must then AllowMissing).
// PrefixFromArgs leaves the last part unterminated, for prefix scans.
type strIndex struct {
	fn func(obj any) ([]string, bool)
}

func (x strIndex) FromObject(obj any) (bool, []byte, error) {
	parts, ok := x.fn(obj)
	if !ok {
		return false, nil, nil
	}
	return true, joinKey(parts, true), nil
}

func (x strIndex) FromArgs(args ...any) ([]byte, error) {
	parts, err := stringArgs(args)
	if err != nil {
		return nil, err
	}
	return joinKey(parts, true), nil
}

func (x strIndex) PrefixFromArgs(args ...any) ([]byte, error) {
	parts, err := stringArgs(args)
	if err != nil {
		return nil, err
	}
	return joinKey(parts, false), nil
}

func stringArgs(args []any) ([]string, error) {
	parts := make([]string, len(args))
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("state: index argument %d is %T, want string", i, a)
		}
		parts[i] = s
	}
	return parts, nil
}

func joinKey(parts []string, terminateLast bool) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		b = append(b, p...)
		if i < len(parts)-1 || terminateLast {
			b = append(b, 0)
		}
	}
	return b
}

// versionIndex indexes job versions by (namespace, id, version); the version
// is big-endian so a prefix scan over (namespace, id) yields oldest first.
type versionIndex struct{}

func (versionIndex) FromObject(obj any) (bool, []byte, error) {
	j, ok := obj.(*jobspec.Job)
	if !ok {
		return false, nil, fmt.Errorf("state: job_versions holds %T", obj)
	}
	return true, binary.BigEndian.AppendUint64(joinKey([]string{j.Namespace, j.ID}, true), j.Version), nil
}

func (versionIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("state: job version index wants (namespace, id, version), got %d args", len(args))
	}
	parts, err := stringArgs(args[:2])
	if err != nil {
		return nil, err
	}
	v, ok := args[2].(uint64)
	if !ok {
		return nil, fmt.Errorf("state: job version is %T, want uint64", args[2])
	}
	return binary.BigEndian.AppendUint64(joinKey(parts, true), v), nil
}

func (versionIndex) PrefixFromArgs(args ...any) ([]byte, error) {
	parts, err := stringArgs(args)
	if err != nil {
		return nil, err
	}
	return joinKey(parts, true), nil
}

func idIndex(fn func(obj any) ([]string, bool)) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: "id", Unique: true, Indexer: strIndex{fn}}
}

func schema() *memdb.DBSchema {
	s := baseSchema()
	for name, t := range aclSchema() { // acl.go
		s.Tables[name] = t
	}
	s.Tables[TableSecurity] = securitySchema() // security.go

	// Periodic launches (periodic.go).
	s.Tables[TablePeriodicLaunches] = periodicSchema()
	s.Tables[TableJobs].Indexes["periodic"] = periodicJobIndex()

	s.Tables[TableDeployments] = deploymentsSchema() // deployments.go
	s.Tables[TableAllocs].Indexes["deployment"] = allocDeploymentIndex()
	for name, t := range otaSchema() { // ota.go
		s.Tables[name] = t
	}
	return s
}

func baseSchema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableIndex: {
			Name: tableIndex,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*indexEntry).Key}, true }),
			},
		},
		TableJobs: {
			Name: TableJobs,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) {
					j := o.(*jobspec.Job)
					return []string{j.Namespace, j.ID}, true
				}),
			},
		},
		TableJobVersions: {
			Name: TableJobVersions,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: versionIndex{}},
			},
		},
		TableNodes: {
			Name: TableNodes,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*structs.Node).ID}, true }),
				// Not unique: down nodes may share a name (see nameHolder).
				"name": {Name: "name", Indexer: strIndex{func(o any) ([]string, bool) { return []string{o.(*structs.Node).Name}, true }}},
			},
		},
		TableAllocs: {
			Name: TableAllocs,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*structs.Allocation).ID}, true }),
				"node": {Name: "node", Indexer: strIndex{func(o any) ([]string, bool) {
					return []string{o.(*structs.Allocation).NodeID}, true
				}}},
				"job": {Name: "job", Indexer: strIndex{func(o any) ([]string, bool) {
					a := o.(*structs.Allocation)
					return []string{a.Namespace, a.JobID}, true
				}}},
			},
		},
		TableServices: {
			Name: TableServices,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*structs.ServiceRegistration).ID}, true }),
				// name before namespace: one name's instances across
				// namespaces are one prefix (they share one MQTT topic).
				"name": {Name: "name", Indexer: strIndex{func(o any) ([]string, bool) {
					r := o.(*structs.ServiceRegistration)
					return []string{r.ServiceName, r.Namespace}, true
				}}},
				"alloc": {Name: "alloc", Indexer: strIndex{func(o any) ([]string, bool) {
					return []string{o.(*structs.ServiceRegistration).AllocID}, true
				}}},
			},
		},
		TableEvals: {
			Name: TableEvals,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*structs.Evaluation).ID}, true }),
				"job": {Name: "job", AllowMissing: true, Indexer: strIndex{func(o any) ([]string, bool) {
					e := o.(*structs.Evaluation)
					return []string{e.Namespace, e.JobID}, e.JobID != ""
				}}},
				"status": {Name: "status", Indexer: strIndex{func(o any) ([]string, bool) {
					return []string{o.(*structs.Evaluation).Status}, true
				}}},
			},
		},
	}}
}
