package sweep_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/sweep"
)

// fakeTarget names its arm in the deployment so the measurer can log
// which arm it measured.
type fakeTarget struct{ name string }

func (f fakeTarget) Prepare(context.Context, results.Point) (*sweep.Deployment, error) {
	return &sweep.Deployment{Server: f.name}, nil
}
func (fakeTarget) Close() error { return nil }

const twoPoints = `
name: ab
workload: {model: calibrated}
dimensions: {instances: [1, 2]}
measure: {duration: 10ms, trials: 3}
`

func TestInterleavedOrderAndLabels(t *testing.T) {
	s := parse(t, twoPoints)
	var calls []string
	failOnce := true
	measure := func(_ context.Context, dep *sweep.Deployment, _ *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		calls = append(calls, fmt.Sprintf("%s@%d", dep.Server, p.Instances))
		if dep.Server == "B" && p.Instances == 2 && failOnce {
			failOnce = false
			return nil, errors.New("flaky")
		}
		return &results.Measurement{Requests: 1, ThroughputIPS: 1}, nil
	}
	path := filepath.Join(t.TempDir(), "ab.jsonl")
	sum, err := sweep.RunInterleaved(context.Background(), sweep.InterleaveOptions{Attempts: 2,
		Arms: []sweep.Arm{{Side: results.SideBaseline, Scenario: s, Target: fakeTarget{"A"}},
			{Side: results.SideCandidate, Scenario: s, Target: fakeTarget{"B"}}},
		ResultsPath: path, Measure: measure, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	// Rounds alternate which side goes first: AB BA AB at each point,
	// continuing across points; B's failed first try at instances=2 is
	// retried at once.
	want := "A@1 B@1 B@1 A@1 A@1 B@1 B@2 B@2 A@2 A@2 B@2 B@2 A@2"
	if got := strings.Join(calls, " "); got != want {
		t.Errorf("order\n got %s\nwant %s", got, want)
	}
	if sum.Measured != 12 || sum.Failed != 1 {
		t.Errorf("measured %d failed %d, want 12 and 1", sum.Measured, sum.Failed)
	}
	headers, ids := map[string]bool{}, map[string]string{}
	for _, r := range sum.Records {
		if r.Side != results.SideBaseline && r.Side != results.SideCandidate {
			t.Fatalf("record without side: %+v", r)
		}
		if r.Kind == results.KindHeader {
			headers[r.Side] = r.Header != nil && r.Header.ScenarioYAML != ""
			ids[r.Side] = r.SweepID
			continue
		}
		if r.SweepID != ids[r.Side] {
			t.Errorf("%s record in sweep %q, its header says %q", r.Side, r.SweepID, ids[r.Side])
		}
	}
	if !headers[results.SideBaseline] || !headers[results.SideCandidate] || ids[results.SideBaseline] == ids[results.SideCandidate] {
		t.Errorf("want a header with its own SweepID per side: %v %v", headers, ids)
	}

	// The file is not reused: a second run would pool two time spans.
	_, err = sweep.RunInterleaved(context.Background(), sweep.InterleaveOptions{Attempts: 2,
		Arms:        []sweep.Arm{{Side: "a", Scenario: s, Target: fakeTarget{"A"}}, {Side: "b", Scenario: s, Target: fakeTarget{"B"}}},
		ResultsPath: path, Measure: measure})
	if err == nil || !strings.Contains(err.Error(), "already holds results") {
		t.Errorf("existing file: %v", err)
	}
}

func TestInterleavedRefusesDifferentGrids(t *testing.T) {
	a := parse(t, twoPoints)
	b := parse(t, strings.Replace(twoPoints, "[1, 2]", "[1, 3]", 1))
	c := parse(t, strings.Replace(twoPoints, "trials: 3", "trials: 4", 1))
	measure := func(context.Context, *sweep.Deployment, *scenarios.Scenario, results.Point) (*results.Measurement, error) {
		return &results.Measurement{}, nil
	}
	for _, other := range []*scenarios.Scenario{b, c} {
		path := filepath.Join(t.TempDir(), "ab.jsonl")
		_, err := sweep.RunInterleaved(context.Background(), sweep.InterleaveOptions{Attempts: 2,
			Arms:        []sweep.Arm{{Side: "a", Scenario: a, Target: fakeTarget{"A"}}, {Side: "b", Scenario: other, Target: fakeTarget{"B"}}},
			ResultsPath: path, Measure: measure})
		if err == nil || !strings.Contains(err.Error(), "share the grid and trials") {
			t.Errorf("want a grid mismatch error, got %v", err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Error("a results file was written for a run that never started")
		}
	}
	if _, err := sweep.RunInterleaved(context.Background(), sweep.InterleaveOptions{Attempts: 2,
		Arms: []sweep.Arm{{Side: "a", Scenario: a}}, ResultsPath: "x", Measure: measure}); err == nil {
		t.Error("one arm: want error")
	}
}

// Both sides on embedded servers of their own, for real (no figures are
// asserted: only that each side measured its trials into the one file).
func TestInterleavedOnEmbeddedServers(t *testing.T) {
	s := parse(t, `
name: ab-embedded
workload: {model: calibrated}
dimensions: {clients: [2]}
server: {calibrated: {base_us: 1000}}
measure: {warmup: 20ms, duration: 50ms, trials: 2}
`)
	path := filepath.Join(t.TempDir(), "ab.jsonl")
	sum, err := sweep.RunInterleaved(context.Background(), sweep.InterleaveOptions{Attempts: 2,
		Arms:        []sweep.Arm{{Side: results.SideBaseline, Scenario: s}, {Side: results.SideCandidate, Scenario: s}},
		ResultsPath: path, Measure: sweep.MeasureWith(quiet(), nil), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range results.Points(sum.Records) {
		if r.Status == results.StatusOK && r.Measurement != nil && r.Measurement.Requests > 0 {
			n[r.Side]++
		}
	}
	if n[results.SideBaseline] != 2 || n[results.SideCandidate] != 2 {
		t.Errorf("ok trials per side %v, want 2 each (failed attempts: %d)", n, sum.Failed)
	}
}
