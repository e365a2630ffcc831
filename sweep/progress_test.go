package sweep

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		st   pointStatus
		in   time.Duration
		want string
	}{
		{pointStatus{}, 0, "sweep q: starting"},
		{pointStatus{K: 3, N: 12, Label: "instances=2 clients=8", Trials: 1, Attempt: 1, Tries: 2}, 4200 * time.Millisecond,
			"sweep q: point 3/12 instances=2 clients=8 (4s)"},
		{pointStatus{K: 1, N: 2, Label: "gpus=1", Side: "candidate", Trial: 1, Trials: 3, Attempt: 2, Tries: 2}, 61 * time.Second,
			"sweep q: point 1/2 gpus=1 (candidate, trial 2/3, attempt 2/2, 1m1s)"},
		{pointStatus{K: 2, N: 12, Label: "clients=8", Trials: 1, Phase: measure.Phase{Window: 3, MaxWindows: 10}.String()}, 5 * time.Second,
			"sweep q: point 2/12 clients=8 (window 3/10, 5s)"},
	} {
		if got := describe("q", c.st, c.in); got != c.want {
			t.Errorf("describe(%+v, %v) = %q, want %q", c.st, c.in, got, c.want)
		}
	}
	p := results.Point{GPUs: 1, Instances: 2, Clients: 8, BatchSize: 1, Servers: 1}
	if got, want := pointLabel(p, []string{"instances", "clients"}), "instances=2 clients=8"; got != want {
		t.Errorf("pointLabel = %q, want %q", got, want)
	}
}

// syncBuffer is a bytes.Buffer the progress ticker and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// While a point is measured the sweep's line names it (point k of n, its
// coordinates, the trial): the measurer sees it on the progress writer.
func TestProgressNamesThePointInFlight(t *testing.T) {
	s, err := scenarios.Parse([]byte(`
name: progress
workload: {model: calibrated}
dimensions: {instances: [1, 2], clients: [4]}
measure: {trials: 2}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var buf syncBuffer
	var seen []string
	var phases []string
	measurer := func(ctx context.Context, _ *Deployment, _ *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		out := buf.String()
		seen = append(seen, out[strings.LastIndex(out, "sweep progress:"):])
		// The measurement's phase shows on the line as soon as it is said.
		measure.PhasesOf(ctx)(measure.Phase{Warmup: true})
		out = buf.String()
		phases = append(phases, out[strings.LastIndex(out, "sweep progress:"):])
		return &results.Measurement{Requests: 1}, nil
	}
	_, err = Run(context.Background(), Options{Scenario: s, ResultsPath: filepath.Join(t.TempDir(), "r.jsonl"), Target: fakeTarget{},
		Measure: measurer, Attempts: 1, Progress: &buf})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"point 1/2 instances=1 (trial 1/2,", "point 1/2 instances=1 (trial 2/2,", "point 2/2 instances=2 (trial 1/2,", "point 2/2 instances=2 (trial 2/2,"}
	if len(seen) != len(want) {
		t.Fatalf("measured %d times, want %d", len(seen), len(want))
	}
	for i, w := range want {
		if !strings.Contains(seen[i], w) {
			t.Errorf("measurement %d: the line read %q, want it to contain %q", i+1, seen[i], w)
		}
		if strings.Contains(seen[i], "warm-up") {
			t.Errorf("measurement %d: the line %q still shows the previous point's phase", i+1, seen[i])
		}
		if !strings.Contains(phases[i], "warm-up") {
			t.Errorf("measurement %d: after the phase was said the line read %q, want it to contain warm-up", i+1, phases[i])
		}
	}
}
