package server

import (
	"slices"

	"github.com/tether-edge/tether/central/gateway"
)

// Broker topologies (docs/ha.md):
//
//   - external brokers (-broker, and site blocks): every server connects to
//     the same list when it leads;
//   - embedded brokers: each server runs one; the leader connects to the
//     embedded broker of every server in the registry and treats them as
//     mirrors, so an agent that lists them all can move between them.

// gatewayBrokers returns the shared brokers the leader connects to, and
// whether they mirror each other (the servers' embedded brokers).
func (s *Server) gatewayBrokers() ([]string, bool) {
	if s.broker == nil {
		return s.brokers, false
	}
	urls := s.embeddedBrokers()
	if !slices.Contains(urls, s.broker.URL()) {
		urls = append(urls, s.broker.URL())
	}
	return urls, len(urls) > 1
}

// embeddedBrokers lists the embedded brokers of the registered servers,
// in server ID order.
func (s *Server) embeddedBrokers() []string {
	servers, _ := s.reg.list()
	var urls []string
	for _, info := range servers {
		if info.MQTTURL != "" {
			urls = append(urls, info.MQTTURL)
		}
	}
	return urls
}

func gatewaySites(sites []Site) []gateway.Site {
	out := make([]gateway.Site, 0, len(sites))
	for _, st := range sites {
		out = append(out, gateway.Site{Name: st.Name, URL: st.Broker, Username: st.Username, Password: st.Password})
	}
	return out
}

// watchBrokers restarts the leader's duties when a server's embedded
// broker appears in (or leaves) the registry, so the gateway connects to it.
func (l *leader) watchBrokers() {
	if l.s.broker == nil {
		return
	}
	have := slices.Clone(l.brokers)
	slices.Sort(have)
	for {
		// Compare after taking the channel: a change made while the
		// gateway connected is not missed.
		_, changed := l.s.reg.list()
		want, _ := l.s.gatewayBrokers()
		slices.Sort(want)
		if !slices.Equal(want, have) {
			l.s.log.Info("the servers' embedded brokers changed: reconnecting the gateway", "brokers", want)
			l.s.restartLeading()
			return
		}
		select {
		case <-l.ctx.Done():
			return
		case <-changed:
		}
	}
}
