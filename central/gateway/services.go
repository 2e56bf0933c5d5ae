package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tether-edge/tether/protocol"
)

// ServiceSetJSON is the JSON mirror of protocol.ServiceSet, published on
// <prefix>/svc-json/<name> when Config.ServiceJSONMirror is set.
type ServiceSetJSON struct {
	V         int                   `json:"v"`
	Name      string                `json:"name"`
	Index     uint64                `json:"index"`
	Instances []ServiceInstanceJSON `json:"instances"`
}

// ServiceInstanceJSON is the JSON mirror of protocol.ServiceInstance.
type ServiceInstanceJSON struct {
	ID         string   `json:"id"`
	Address    string   `json:"address"`
	Port       int      `json:"port"`
	Tags       []string `json:"tags"`
	NodeID     string   `json:"node_id"`
	AllocID    string   `json:"alloc_id"`
	JobID      string   `json:"job_id"`
	Datacenter string   `json:"datacenter"`
	Healthy    bool     `json:"healthy"`
}

// ServiceJSONTopic is the retained topic of a service's JSON mirror.
func ServiceJSONTopic(t protocol.Topics, name string) string {
	return strings.TrimSuffix(t.Service(""), "svc/") + "svc-json/" + name
}

// EncodeServiceJSON renders a service set as its JSON mirror.
func EncodeServiceJSON(set *protocol.ServiceSet) ([]byte, error) {
	out := ServiceSetJSON{V: set.V, Name: set.Name, Index: set.Index, Instances: make([]ServiceInstanceJSON, 0, len(set.Instances))}
	for _, in := range set.Instances {
		tags := in.Tags
		if tags == nil {
			tags = []string{}
		}
		out.Instances = append(out.Instances, ServiceInstanceJSON{ID: in.ID, Address: in.Address, Port: in.Port, Tags: tags,
			NodeID: in.NodeID, AllocID: in.AllocID, JobID: in.JobID, Datacenter: in.Datacenter, Healthy: in.Healthy})
	}
	return json.Marshal(out)
}

// PublishService publishes a service's instances, retained, on every
// broker (and its JSON mirror when configured).
func (g *Gateway) PublishService(set *protocol.ServiceSet) error {
	if !protocol.ValidID(set.Name) {
		return fmt.Errorf("gateway: %w", protocol.CheckID("service name", set.Name))
	}
	set, err := g.signedService(set)
	if err != nil {
		return err
	}
	b, err := protocol.Encode(set)
	if err != nil {
		return err
	}
	var jb []byte
	if g.cfg.ServiceJSONMirror {
		if jb, err = EncodeServiceJSON(set); err != nil {
			return fmt.Errorf("gateway: encode JSON mirror of %s: %w", set.Name, err)
		}
	}
	var errs []error
	for _, c := range g.clients {
		errs = append(errs, g.publish(c, g.topics.Service(set.Name), 1, true, b))
		if jb != nil {
			errs = append(errs, g.publish(c, ServiceJSONTopic(g.topics, set.Name), 1, true, jb))
		}
	}
	return errors.Join(errs...)
}

// ClearService removes a service's retained message (and its JSON
// mirror's, whether or not the mirror is on now) from every broker: MQTT
// deletes a retained message when an empty one is published retained.
func (g *Gateway) ClearService(name string) error {
	if !protocol.ValidID(name) {
		return fmt.Errorf("gateway: %w", protocol.CheckID("service name", name))
	}
	var errs []error
	for _, c := range g.clients {
		errs = append(errs, g.publish(c, g.topics.Service(name), 1, true, nil))
		errs = append(errs, g.publish(c, ServiceJSONTopic(g.topics, name), 1, true, nil))
	}
	return errors.Join(errs...)
}
