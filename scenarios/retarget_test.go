package scenarios_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/scenarios"
)

// quickstart swept at --url: the emulated GPU profile is the embedded
// server's and goes with a note; the cost model and gate stay, and the
// header written from it reads back with them.
func TestRetargetKeepsTheCostModel(t *testing.T) {
	s, err := scenarios.Builtin("quickstart")
	if err != nil {
		t.Fatal(err)
	}
	cost, gate := s.Cost, s.Gate
	notes, err := s.Retarget(scenarios.Target{Kind: scenarios.TargetRemote, URLs: []string{"127.0.0.1:8001"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "server.emulated_gpu_profile ignored") || !strings.Contains(notes[0], "remote") {
		t.Fatalf("notes %q", notes)
	}
	if s.Server.EmulatedGPUProfile != "" || !reflect.DeepEqual(s.Cost, cost) || !reflect.DeepEqual(s.Gate, gate) {
		t.Fatalf("retargeted scenario: profile %q, cost %+v (want %+v)", s.Server.EmulatedGPUProfile, s.Cost, cost)
	}
	back, notes, err := scenarios.ParseRecorded(s.YAML(), "r.jsonl (header scenario)")
	if err != nil || len(notes) != 0 {
		t.Fatalf("header of a retargeted scenario: %v, notes %q", err, notes)
	}
	if !reflect.DeepEqual(back.Cost, cost) || back.Hash() != s.Hash() {
		t.Fatalf("read back: cost %+v, hash %s (want %s)", back.Cost, back.Hash(), s.Hash())
	}
}

// A header written before Retarget existed kept the embedded-only field
// under a remote target: Parse refuses it, ParseRecorded drops the field
// with a note naming it and keeps prices, constraints and objective.
func TestParseRecordedDropsFieldsTheTargetDoesNotUse(t *testing.T) {
	y := `name: quickstart
target: {kind: remote, urls: ["127.0.0.1:8001"], tritonserver: /opt/tritonserver}
workload: {model: mlp, mode: closed, rpc: unary}
dimensions: {gpus: [1, 2], clients: [1, 2]}
server: {emulated_gpu_profile: h200-mlp}
cost:
  prices: {gpu_hour: {default: 2.5, emulated: 2.5}, gpu_type: emulated, node_hour: 0.5}
  constraints: ["p99 <= 20ms"]
  objective: usd_per_million
`
	if _, err := scenarios.Parse([]byte(y), "old.jsonl"); err == nil {
		t.Fatal("Parse accepted an embedded-only field under a remote target; the test proves nothing")
	}
	s, notes, err := scenarios.ParseRecorded([]byte(y), "old.jsonl (header scenario)")
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "old.jsonl (header scenario): server.emulated_gpu_profile ignored") ||
		!strings.Contains(notes[1], "target.tritonserver ignored") {
		t.Fatalf("notes %q", notes)
	}
	if s.Cost.Prices.GPUHour["emulated"] != 2.5 || s.Cost.Prices.NodeHour != 0.5 || len(s.Cost.Constraints) != 1 || s.Cost.Objective != "usd_per_million" {
		t.Fatalf("cost model lost: %+v", s.Cost)
	}
	// Problems that are not about the target still fail.
	if _, _, err := scenarios.ParseRecorded([]byte(strings.Replace(y, "objective: usd_per_million", "objective: weighted", 1)), "bad"); err == nil {
		t.Fatal("a real problem was accepted")
	}
}
