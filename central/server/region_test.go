package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
)

// One cluster is one region: a job naming another is refused at submit
// (it used to be stored and run here); the default "global" means this one.
func TestSubmitRefusesAnotherRegion(t *testing.T) {
	s := testServerWith(t, func(c *Config) { c.Region = "eu" })
	j := testJob(1)
	j.Region = "us"
	_, _, err := s.SubmitJob(context.Background(), j)
	if err == nil || !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), `region "us" is not this cluster's region "eu"`) {
		t.Fatalf("SubmitJob(region us) = %v, want a refusal naming both regions", err)
	}
	if s.store.JobByID("default", "web") != nil {
		t.Fatal("the refused job was stored")
	}
	for _, region := range []string{"global", "eu"} {
		j := testJob(1)
		j.Region = region
		if _, _, err := s.SubmitJob(context.Background(), j); err != nil {
			t.Fatalf("SubmitJob(region %s): %v", region, err)
		}
		if got := s.store.JobByID("default", "web").Region; got != "eu" {
			t.Errorf("region %s stored as %q, want eu", region, got)
		}
	}
}
