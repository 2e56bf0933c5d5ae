package podman

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkStartLocalImage measures Start (image lookup, create, start,
// returning once the container runs) for an image already in local
// storage. It reports the median as well as the mean, since the first
// start of a service is slower.
func BenchmarkStartLocalImage(b *testing.B) {
	e := newEnvB(b)
	d := New(Options{Socket: e.socket, Logger: testLogger()})
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		cfg := e.taskB(b, fmt.Sprintf("bench%d", i), "sleep 60")
		begin := time.Now()
		h, err := d.Start(context.Background(), cfg)
		took = append(took, time.Since(begin))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := h.Stop(0, "SIGKILL"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms/start-median")
}
