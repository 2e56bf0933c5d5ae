package gateway

import (
	"slices"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestRoutePicksTheNodesBrokers(t *testing.T) {
	sites := []Site{{URL: "shared0"}, {URL: "shared1"}, {Name: "dc2", URL: "dc2"}, {Name: "dc3", URL: "dc3"}}
	cases := []struct {
		name   string
		mirror bool
		heard  map[string]int
		node   string
		dc     string
		want   []int
	}{
		{"heard through a site", false, map[string]int{"n": 2}, "n", "dc2", []int{2}},
		{"heard through a shared broker", false, map[string]int{"n": 1}, "n", "dc1", []int{1}},
		{"heard through a mirrored shared broker", true, map[string]int{"n": 1}, "n", "dc1", []int{0, 1}},
		{"heard through a site, mirrored", true, map[string]int{"n": 3}, "n", "dc3", []int{3}},
		{"unheard, site known", false, nil, "n", "dc2", []int{0, 1, 2}},
		{"unheard, no site for dc", false, nil, "n", "dc9", []int{0, 1}},
		{"unheard, no datacenter", false, nil, "n", "", []int{0, 1, 2, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &Gateway{cfg: Config{MirrorShared: c.mirror}, sites: sites, clients: make([]paho.Client, len(sites)), nodeSite: map[string]int{}}
			for k, v := range c.heard {
				g.nodeSite[k] = v
			}
			if got := g.route(c.node, c.dc); !slices.Equal(got, c.want) {
				t.Errorf("route(%s, %s) = %v, want %v", c.node, c.dc, got, c.want)
			}
		})
	}
	only := &Gateway{sites: []Site{{Name: "dc2", URL: "dc2"}}, clients: make([]paho.Client, 1), nodeSite: map[string]int{}}
	if got := only.route("n", "dc1"); !slices.Equal(got, []int{0}) {
		t.Errorf("with no shared broker and no site for the node, route = %v, want every broker", got)
	}
}
