package state

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// Agent releases and rollouts (docs/upgrades.md). Only metadata is here;
// a release's bytes live in each server's data dir (central/ota.Blobs).
const (
	TableAgentReleases = "agent_releases"
	TableAgentRollouts = "agent_rollouts"
)

// Bounds on what the tables hold.
const (
	// MaxReleaseVersions is how many release versions are kept: adding
	// one more drops the oldest version no active rollout uses.
	MaxReleaseVersions = 8
	// keepRollouts is how many finished rollouts are kept.
	keepRollouts = 16
	// MaxRolloutNodes bounds the nodes one rollout selects.
	MaxRolloutNodes = 100_000
)

var (
	// ErrRolloutActive is returned when starting a rollout while another runs.
	ErrRolloutActive = errors.New("state: another agent rollout is running or paused: abort it first (`central agent rollout abort`)")
	// ErrNoRollout is returned for an unknown rollout.
	ErrNoRollout = errors.New("state: no such agent rollout")
	// ErrNoRelease is returned for an unknown release.
	ErrNoRelease = errors.New("state: no such agent release")
	// ErrReleaseInUse is returned when deleting a release an active rollout uses.
	ErrReleaseInUse = errors.New("state: the release is used by an active rollout: abort it first")
)

// OTAOp changes releases or rollouts; exactly one field is set.
type OTAOp struct {
	UpsertRelease *structs.AgentRelease `json:"upsert_release,omitempty"`
	// DeleteRelease removes a version's binaries (Target "": every target).
	DeleteRelease *DeleteRelease `json:"delete_release,omitempty"`
	// StartRollout stores a new rollout; refused while another is active.
	StartRollout *structs.AgentRollout `json:"start_rollout,omitempty"`
	// UpdateRollout changes a rollout's status and some of its nodes.
	UpdateRollout *RolloutUpdate `json:"update_rollout,omitempty"`
}

// DeleteRelease names what to delete.
type DeleteRelease struct {
	Version string `json:"version"`
	Target  string `json:"target,omitempty"`
}

// RolloutUpdate is one step of a rollout (the leader's, or an operator's
// pause, resume or abort).
type RolloutUpdate struct {
	ID string `json:"id"`
	// IfStatus, when set, refuses the update (ErrConflict) unless the
	// rollout's status is one of these: a step computed on a state an
	// operator has changed since is not applied.
	IfStatus          []string                        `json:"if_status,omitempty"`
	Status            string                          `json:"status,omitempty"` // "": unchanged
	StatusDescription string                          `json:"status_description,omitempty"`
	Nodes             map[string]*structs.RolloutNode `json:"nodes,omitempty"` // replaced entries
	Events            []structs.RolloutEvent          `json:"events,omitempty"`
	Now               int64                           `json:"now"`
}

func otaSchema() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{
		TableAgentReleases: {
			Name: TableAgentReleases,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) {
					r := o.(*structs.AgentRelease)
					return []string{r.Version, r.Target}, true
				}),
			},
		},
		TableAgentRollouts: {
			Name: TableAgentRollouts,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*structs.AgentRollout).ID}, true }),
				// At most one rollout is active: found without a scan.
				"active": {Name: "active", AllowMissing: true, Indexer: strIndex{func(o any) ([]string, bool) {
					return []string{"1"}, o.(*structs.AgentRollout).Active()
				}}},
			},
		},
	}
}

func otaOps(op *Op) int {
	if op.OTA != nil {
		return 1
	}
	return 0
}

func (a *applier) applyOTA(op *Op) (bool, error) {
	o := op.OTA
	if o == nil {
		return false, nil
	}
	n := 0
	for _, set := range []bool{o.UpsertRelease != nil, o.DeleteRelease != nil, o.StartRollout != nil, o.UpdateRollout != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return true, fmt.Errorf("%w: agent release/rollout op sets %d fields, want exactly one", ErrBadCommand, n)
	}
	switch {
	case o.UpsertRelease != nil:
		return true, a.upsertRelease(o.UpsertRelease)
	case o.DeleteRelease != nil:
		return true, a.deleteRelease(o.DeleteRelease)
	case o.StartRollout != nil:
		return true, a.startRollout(o.StartRollout)
	default:
		return true, a.updateRollout(o.UpdateRollout)
	}
}

func (a *applier) upsertRelease(r *structs.AgentRelease) error {
	m := protocol.ReleaseManifest{Version: r.Version, Target: r.Target, SHA256: make([]byte, 32), Size: r.Size}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	if len(r.SHA256) != 64 {
		return fmt.Errorf("%w: release %s: SHA-256 %q is not 64 hex digits", ErrBadCommand, r.ID(), r.SHA256)
	}
	c := *r
	c.CreateIndex, c.ModifyIndex = a.index, a.index
	if old := firstTxn[*structs.AgentRelease](a.txn, TableAgentReleases, r.Version, r.Target); old != nil {
		if old.SHA256 != r.SHA256 {
			return fmt.Errorf("%w: release %s exists with another binary (sha256 %s): delete it first or use a new version", ErrConflict, r.ID(), old.SHA256[:12])
		}
		c.CreateIndex, c.CreateTime = old.CreateIndex, old.CreateTime
		c.Holders = mergeHolders(old.Holders, r.Holders)
	}
	a.insert(TableAgentReleases, &c)
	a.dropOldReleases()
	return nil
}

func mergeHolders(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, h := range b {
		if !contains(out, h) {
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// dropOldReleases keeps MaxReleaseVersions versions: the oldest versions
// (by first creation) that no active rollout uses go.
func (a *applier) dropOldReleases() {
	all := collectTxn[*structs.AgentRelease](a.txn, TableAgentReleases)
	first := map[string]uint64{}
	for _, r := range all {
		if i, ok := first[r.Version]; !ok || r.CreateIndex < i {
			first[r.Version] = r.CreateIndex
		}
	}
	if len(first) <= MaxReleaseVersions {
		return
	}
	active := ""
	if raw, err := a.txn.First(TableAgentRollouts, "active", "1"); err == nil && raw != nil {
		active = raw.(*structs.AgentRollout).Version
	}
	versions := make([]string, 0, len(first))
	for v := range first {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return first[versions[i]] < first[versions[j]] })
	drop := map[string]bool{}
	for _, v := range versions {
		if len(first)-len(drop) <= MaxReleaseVersions {
			break
		}
		if v != active {
			drop[v] = true
		}
	}
	for _, r := range all {
		if drop[r.Version] {
			a.delete(TableAgentReleases, r)
		}
	}
}

func (a *applier) deleteRelease(d *DeleteRelease) error {
	if raw, err := a.txn.First(TableAgentRollouts, "active", "1"); err == nil && raw != nil && raw.(*structs.AgentRollout).Version == d.Version {
		return fmt.Errorf("%w (rollout %s to %s)", ErrReleaseInUse, raw.(*structs.AgentRollout).ID, d.Version)
	}
	n := 0
	for _, r := range collectTxn[*structs.AgentRelease](a.txn, TableAgentReleases) {
		if r.Version == d.Version && (d.Target == "" || r.Target == d.Target) {
			a.delete(TableAgentReleases, r)
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: %s %s", ErrNoRelease, d.Version, d.Target)
	}
	return nil
}

func (a *applier) startRollout(r *structs.AgentRollout) error {
	if r.ID == "" || len(r.ID) > protocol.MaxRolloutID || r.Version == "" || len(r.Nodes) > MaxRolloutNodes || len(r.Order) != len(r.Nodes) {
		return fmt.Errorf("%w: rollout without an ID or version, or with %d nodes in order for %d (at most %d)", ErrBadCommand, len(r.Order), len(r.Nodes), MaxRolloutNodes)
	}
	for _, id := range r.Order {
		if r.Nodes[id] == nil {
			return fmt.Errorf("%w: rollout %s orders node %s but has no entry for it", ErrBadCommand, r.ID, id)
		}
	}
	if raw, err := a.txn.First(TableAgentRollouts, "active", "1"); err == nil && raw != nil {
		return fmt.Errorf("%w (%s, to %s)", ErrRolloutActive, raw.(*structs.AgentRollout).ID, raw.(*structs.AgentRollout).Version)
	}
	if firstTxn[*structs.AgentRollout](a.txn, TableAgentRollouts, r.ID) != nil {
		return fmt.Errorf("%w: rollout %s exists", ErrConflict, r.ID)
	}
	c := *r
	c.CreateIndex, c.ModifyIndex = a.index, a.index
	a.insert(TableAgentRollouts, &c)
	a.markRolloutNodes(nil, &c)
	a.dropOldRollouts()
	return nil
}

func (a *applier) updateRollout(u *RolloutUpdate) error {
	old := firstTxn[*structs.AgentRollout](a.txn, TableAgentRollouts, u.ID)
	if old == nil {
		return fmt.Errorf("%w: %s", ErrNoRollout, u.ID)
	}
	if len(u.IfStatus) > 0 && !contains(u.IfStatus, old.Status) {
		return fmt.Errorf("%w: rollout %s is %s (wanted %s)", ErrConflict, u.ID, old.Status, strings.Join(u.IfStatus, " or "))
	}
	if !old.Active() && (u.Status != "" || len(u.Nodes) > 0) {
		return fmt.Errorf("%w: rollout %s is %s already", ErrConflict, u.ID, old.Status)
	}
	c := *old
	if len(u.Nodes) > 0 {
		c.Nodes = make(map[string]*structs.RolloutNode, len(old.Nodes))
		for id, n := range old.Nodes {
			c.Nodes[id] = n
		}
		for id, n := range u.Nodes {
			if _, ok := old.Nodes[id]; !ok || n == nil {
				return fmt.Errorf("%w: node %s is not in rollout %s", ErrBadCommand, id, u.ID)
			}
			c.Nodes[id] = n
		}
	}
	if u.Status != "" {
		c.Status = u.Status
		c.StatusDescription = u.StatusDescription
	}
	if len(u.Events) > 0 {
		c.Events = append(append([]structs.RolloutEvent(nil), old.Events...), u.Events...)
		if len(c.Events) > structs.MaxRolloutEvents {
			c.Events = c.Events[len(c.Events)-structs.MaxRolloutEvents:]
		}
	}
	c.ModifyIndex, c.ModifyTime = a.index, u.Now
	a.insert(TableAgentRollouts, &c)
	a.markRolloutNodes(old, &c)
	if !c.Active() {
		a.dropOldRollouts()
	}
	return nil
}

// markRolloutNodes marks for republishing the nodes whose upgrade order
// appeared or went (UpgradeOrder).
func (a *applier) markRolloutNodes(old, cur *structs.AgentRollout) {
	for id, n := range cur.Nodes {
		was := old != nil && ordered(old, old.Nodes[id])
		if was != ordered(cur, n) {
			a.nodes[id] = true
		}
	}
}

func ordered(r *structs.AgentRollout, n *structs.RolloutNode) bool {
	return r.Active() && n != nil && n.Status == structs.RolloutNodeUpgrading
}

func (a *applier) dropOldRollouts() {
	all := collectTxn[*structs.AgentRollout](a.txn, TableAgentRollouts)
	var done []*structs.AgentRollout
	for _, r := range all {
		if !r.Active() {
			done = append(done, r)
		}
	}
	if len(done) <= keepRollouts {
		return
	}
	sort.Slice(done, func(i, j int) bool { return done[i].CreateIndex < done[j].CreateIndex })
	for _, r := range done[:len(done)-keepRollouts] {
		a.delete(TableAgentRollouts, r)
	}
}

func collectTxn[T any](txn *memdb.Txn, table string) []T {
	it, err := txn.Get(table, "id")
	if err != nil {
		return nil
	}
	var out []T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(T))
	}
	return out
}

// --- reads -------------------------------------------------------------------

// AgentReleases returns every release binary, sorted by version then target.
func (r reader) AgentReleases() []*structs.AgentRelease {
	return collect[*structs.AgentRelease](r.get(TableAgentReleases, "id"))
}

// AgentRelease returns one release binary, or nil.
func (r reader) AgentRelease(version, target string) *structs.AgentRelease {
	return first[*structs.AgentRelease](r.db, TableAgentReleases, "id", version, target)
}

// AgentRollouts returns every kept rollout, newest first.
func (r reader) AgentRollouts() []*structs.AgentRollout {
	out := collect[*structs.AgentRollout](r.get(TableAgentRollouts, "id"))
	sort.Slice(out, func(i, j int) bool { return out[i].CreateIndex > out[j].CreateIndex })
	return out
}

// AgentRolloutByID returns a rollout, or nil.
func (r reader) AgentRolloutByID(id string) *structs.AgentRollout {
	return first[*structs.AgentRollout](r.db, TableAgentRollouts, "id", id)
}

// ActiveRollout returns the running or paused rollout, or nil.
func (r reader) ActiveRollout() *structs.AgentRollout {
	return first[*structs.AgentRollout](r.db, TableAgentRollouts, "active", "1")
}

// UpgradeOrder returns the active rollout and the node's entry in it when
// the node is to upgrade now (its status is upgrading), else nil, nil.
func (r reader) UpgradeOrder(nodeID string) (*structs.AgentRollout, *structs.RolloutNode) {
	ro := r.ActiveRollout()
	if ro == nil {
		return nil, nil
	}
	if n := ro.Nodes[nodeID]; ordered(ro, n) {
		return ro, n
	}
	return nil, nil
}

func (s *Store) AgentReleases() []*structs.AgentRelease { return s.live().AgentReleases() }
func (s *Store) AgentRelease(version, target string) *structs.AgentRelease {
	return s.live().AgentRelease(version, target)
}
func (s *Store) AgentRollouts() []*structs.AgentRollout { return s.live().AgentRollouts() }
func (s *Store) AgentRolloutByID(id string) *structs.AgentRollout {
	return s.live().AgentRolloutByID(id)
}
func (s *Store) ActiveRollout() *structs.AgentRollout { return s.live().ActiveRollout() }
