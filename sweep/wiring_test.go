package sweep

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/scenarios"
)

// Without agents a sweep measures in this process on the target Run
// builds; agents on Kubernetes need the coordinator's addresses before
// anything is created.
func TestWire(t *testing.T) {
	s, err := scenarios.Builtin("quickstart")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "q.jsonl")
	w, err := Wire(context.Background(), s, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Target != nil || w.Measure == nil || w.SweepID != "" {
		t.Errorf("no agents: got target %v, measurer set %v, sweep ID %q; want no target, a measurer, no ID", w.Target, w.Measure != nil, w.SweepID)
	}
	opts := DefaultOptions()
	w.Apply(&opts)
	if opts.Measure == nil || opts.Target != nil {
		t.Error("Apply did not set the measurer")
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}

	k := *s
	k.Agents = 2
	k.Target = scenarios.Target{Kind: scenarios.TargetKubernetes}
	if _, err := Wire(context.Background(), &k, path, nil); err == nil || !strings.Contains(err.Error(), "coordinator_listen") {
		t.Errorf("kubernetes agents without a coordinator: got %v, want an error naming coordinator_listen", err)
	}
}
