package desired

import (
	"errors"
	"fmt"
	"math"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// Budgets of one node's desired state. The scheduler never places past
// them; CheckJob refuses at submit a job whose allocations could not fit.
const (
	// MaxAllocsPerNode is the hard cap on allocations in one node's desired
	// state, whatever their resources: a quarter of the
	// protocol.MaxArrayElements (4,096) an agent decodes.
	MaxAllocsPerNode = 1024
	// Reserve is what a desired state needs besides its allocations: the
	// header (node ID, index, time), up to four signatures, Kept (at most
	// protocol.MaxKeptAllocs IDs), the topic and the MQTT packet header.
	Reserve = 16 << 10
	// MaxNodeBytes bounds the encoded allocations of one node's desired
	// state, so that it always fits in one MQTT message of
	// protocol.MaxMessageSize (1 MiB).
	MaxNodeBytes = protocol.MaxMessageSize - Reserve
	// MaxAllocBytes bounds one allocation's encoded entry (its group's
	// tasks, env, templates, config, meta): a quarter of a message, so
	// that no single job can fill a node's budget by itself.
	MaxAllocBytes = 256 << 10
)

// ErrJobTooLarge is wrapped by CheckJob's errors.
var ErrJobTooLarge = errors.New("job too large for an agent's desired state")

// boundID is as long as every allocation ID central makes
// (structs.GenerateID: a UUID).
const boundID = "00000000-0000-4000-8000-000000000000"

// AllocBound returns an upper bound on the encoded size of any allocation
// of group tg of job in a desired state, without its datacenter (add
// DatacenterBytes): the allocation ID, name, index and ports are given
// their longest values. It fails only if the entry cannot be encoded.
func AllocBound(job *jobspec.Job, tg *jobspec.TaskGroup) (int, error) {
	b, err := protocol.Encode(boundAlloc(job, tg))
	if err != nil {
		return 0, fmt.Errorf("encode job %q group %q: %w", job.ID, tg.Name, err)
	}
	return len(b), nil
}

// DatacenterBytes is what a node's datacenter name adds to each of its
// allocations' entries (AllocBound leaves it out).
func DatacenterBytes(dc string) int {
	if dc == "" {
		return 0
	}
	return 1 + cborHeadLen(len(dc)) + len(dc) // key, string head, text
}

// cborHeadLen is the length of a CBOR head that carries n.
func cborHeadLen(n int) int {
	switch {
	case n < 24:
		return 1
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	case n <= math.MaxUint32:
		return 5
	}
	return 9
}

// boundAlloc is the largest entry an allocation of tg can have.
func boundAlloc(job *jobspec.Job, tg *jobspec.TaskGroup) protocol.DesiredAlloc {
	ns := job.Namespace
	if ns == "" {
		ns = "default" // what the state store fills in
	}
	a := &structs.Allocation{
		ID: boundID, Namespace: ns, JobID: job.ID, JobVersion: math.MaxUint64, Job: job, TaskGroup: tg.Name,
		Name:          fmt.Sprintf("%s.%s[%d]", job.ID, tg.Name, math.MaxInt32),
		Index:         math.MaxInt32,
		DesiredStatus: protocol.DesiredRun,
		DeploymentID:  boundID, // a deployment's allocations also carry the group's health policy (health.go)
	}
	for _, nw := range tg.Networks {
		if nw == nil {
			continue
		}
		for _, p := range nw.Ports {
			if p == nil {
				continue
			}
			to := p.To
			if to == -1 { // mapped to the host port, at most 65535
				to = math.MaxUint16
			}
			a.Ports = append(a.Ports, structs.AllocPort{Label: p.Label, Value: math.MaxUint16, To: to})
		}
	}
	return Alloc(a, tg, "")
}

// CheckJob refuses a job an agent could not receive: a group whose
// allocation entry is over MaxAllocBytes, groups that together are over
// MaxNodeBytes (a system job puts every group on each node), or an entry
// the agent's strict decoder would refuse (too many map entries or array
// elements, too deeply nested driver config). Every error wraps
// ErrJobTooLarge and names the group, the size and the limit.
func CheckJob(job *jobspec.Job) error {
	total := 0
	for _, tg := range job.TaskGroups {
		if tg == nil {
			continue
		}
		da := boundAlloc(job, tg)
		b, err := protocol.Encode(da)
		if err != nil {
			return fmt.Errorf("%w: job %q group %q cannot be encoded for agents: %v", ErrJobTooLarge, job.ID, tg.Name, err)
		}
		if len(b) > MaxAllocBytes {
			return fmt.Errorf("%w: job %q group %q: one allocation is %d bytes in the node's desired state (limit %d bytes per allocation, %d per node, sent to the agent in one MQTT message of at most %d); move large data out of env, meta and template data (an artifact, or a template source file)",
				ErrJobTooLarge, job.ID, tg.Name, len(b), MaxAllocBytes, MaxNodeBytes, protocol.MaxMessageSize)
		}
		total += len(b)
		// Decode it as the agent would, inside a desired state.
		msg, err := protocol.Encode(&protocol.Desired{V: protocol.Version, NodeID: "n", Allocs: []protocol.DesiredAlloc{da}})
		if err == nil {
			err = protocol.Decode(msg, &protocol.Desired{})
		}
		if err != nil {
			return fmt.Errorf("%w: job %q group %q: agents would refuse its desired state: %v (agents decode at most %d map entries and %d array elements per value and %d levels of nesting); make env, meta or driver config smaller or flatter",
				ErrJobTooLarge, job.ID, tg.Name, err, protocol.MaxMapPairs, protocol.MaxArrayElements, protocol.MaxNestedLevels)
		}
	}
	if total > MaxNodeBytes {
		return fmt.Errorf("%w: job %q: its groups together are %d bytes in a node's desired state (limit %d per node); split the job or make its groups smaller",
			ErrJobTooLarge, job.ID, total, MaxNodeBytes)
	}
	return nil
}
