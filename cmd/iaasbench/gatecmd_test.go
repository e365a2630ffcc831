package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// abFile writes an interleaved results file: 2 points × 8 trials a side,
// 1% noise, the candidate's service time times slower.
func abFile(t *testing.T, slower float64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	path := filepath.Join(t.TempDir(), "ab.jsonl")
	w, err := results.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, side := range []string{results.SideBaseline, results.SideCandidate} {
		if err := w.Append(results.Record{Kind: results.KindHeader, SweepID: side, Scenario: "ab", Side: side,
			Header: &results.Header{ScenarioYAML: "name: ab\nworkload: {model: calibrated}\n"}}); err != nil {
			t.Fatal(err)
		}
	}
	for inst := 1; inst <= 2; inst++ {
		for tr := range 8 {
			for _, side := range []string{results.SideBaseline, results.SideCandidate} {
				f := 1.0
				if side == results.SideCandidate {
					f = slower
				}
				n := func(v float64) float64 { return v * (1 + 0.01*rng.NormFloat64()) }
				if err := w.Append(results.Record{Kind: results.KindPoint, SweepID: side, Scenario: "ab", Side: side, Trial: tr, Attempt: 1,
					Point: results.Point{Instances: inst, Clients: 4}, Status: results.StatusOK,
					Measurement: &results.Measurement{ThroughputIPS: n(500 * float64(inst) / f), Latency: results.LatencySummary{P50US: n(2000 * f), P99US: n(2600 * f)}}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return path
}

func gateCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestGateExitCodes(t *testing.T) {
	same, slow := abFile(t, 1), abFile(t, 1.2)
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"gate", "--results", same}, 0, "no regression"},
		{[]string{"gate", "--results", slow}, 1, "regression"},
		{[]string{"gate", "--results", slow, "--thresholds", "throughput=off,p99=off,usd_per_million=off"}, 0, "no regression"},
		{[]string{"gate", "--results", slow, "--baseline", same}, 2, "either --results"},
		{[]string{"gate", "--baseline", same}, 2, "need --baseline and --candidate"},
		{[]string{"gate", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"gate", "--results", filepath.Join(t.TempDir(), "none.jsonl")}, 2, "none.jsonl"},
		{[]string{"gate", "-h"}, 0, ""}, // the usage goes to os.Stderr
		{[]string{"gate", "run", "-h"}, 0, ""},
		{[]string{"gate", "run", "--scenario", "no-such-scenario"}, 2, "no-such-scenario"},
		{[]string{"gate", "run", "--baseline-url", "127.0.0.1:1", "--baseline-repo", "x"}, 2, "--baseline-repo"},
	} {
		code, out, errOut := gateCLI(tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.says) {
			t.Errorf("%v: exit %d, want %d saying %q\nstdout: %s\nstderr: %s", tc.args, code, tc.code, tc.says, out, errOut)
		}
	}
	// A plain sweep file is not an interleaved run.
	plain := filepath.Join(t.TempDir(), "plain.jsonl")
	if err := os.WriteFile(plain, []byte(`{"schema":1,"kind":"point","status":"ok"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := gateCLI("gate", "--results", plain); code != 2 || !strings.Contains(errOut, "not an interleaved") {
		t.Errorf("plain file: exit %d: %s", code, errOut)
	}
}

func TestGateJSONAndFiles(t *testing.T) {
	dir := t.TempDir()
	md, junit, js := filepath.Join(dir, "g.md"), filepath.Join(dir, "g.xml"), filepath.Join(dir, "g.json")
	code, out, _ := gateCLI("gate", "--results", abFile(t, 1.2), "--json", "-", "--markdown", md, "--junit", junit)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		ExitCode    int `json:"exit_code"`
		Regressions int `json:"regressions"`
		Gated       int `json:"gated"`
		Rows        []struct {
			Verdict string `json:"verdict"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json - does not print JSON alone on stdout: %v\n%s", err, out)
	}
	// 2 points × throughput, p99 and usd_per_million gated (p50 is not).
	if doc.ExitCode != 1 || doc.Regressions == 0 || doc.Gated != 6 || len(doc.Rows) != 8 {
		t.Errorf("json: %+v", doc)
	}
	for _, f := range []string{md, junit} {
		if b, err := os.ReadFile(f); err != nil || len(b) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	code, out, _ = gateCLI("gate", "--results", abFile(t, 1), "--json", js)
	if b, err := os.ReadFile(js); code != 0 || err != nil || !json.Valid(b) || !strings.Contains(out, "result: no regression") {
		t.Errorf("--json FILE: exit %d, %v, table on stdout: %q", code, err, out)
	}
}

// gate run on the embedded server end to end, both sides the same build.
// Thresholds are off so that the exit status cannot depend on this
// machine's noise: the test checks the wiring (both sides measured into
// one labelled file, the table printed), not the statistics.
func TestGateRunEmbedded(t *testing.T) {
	dir := t.TempDir()
	scenario := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(scenario, []byte(`
name: tiny
workload: {model: calibrated}
dimensions: {instances: [1, 2]}
server: {calibrated: {base_us: 1000}}
measure: {warmup: 20ms, duration: 50ms, trials: 3}
gate: {min_trials: 3}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ab.jsonl")
	code, out, errOut := gateCLI("gate", "run", "--scenario", scenario, "--results", path, "--thresholds", "throughput=off,p99=off,usd_per_million=off")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"2 points × 3 trials × 2 sides, interleaved", "scenario tiny", "median ±", "result: no regression"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	recs, err := results.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range results.Points(recs) {
		if r.Status == results.StatusOK {
			n[r.Side]++
		}
	}
	if n[results.SideBaseline] != 6 || n[results.SideCandidate] != 6 {
		t.Errorf("ok trials per side: %v, want 6 each", n)
	}
	// The same file gates again, identically.
	code2, out2, _ := gateCLI("gate", "--results", path, "--thresholds", "throughput=off,p99=off,usd_per_million=off")
	if i := strings.Index(out, "scenario tiny"); code2 != 0 || i < 0 || out[i:] != out2 {
		t.Errorf("re-gating the file: exit %d\n%s\nvs\n%s", code2, out2, fmt.Sprint(out[max(i, 0):]))
	}
}
