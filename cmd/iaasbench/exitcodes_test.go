package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

// Exit 0 only when every planned point has an ok record; and a sweep at
// --url keeps the scenario's cost model: it prints its operating point
// with --report off, and report and gate re-reading the file price it
// from the header (3 USD per GPU-hour, p99 <= 500ms), not by defaults.
func TestRemoteSweepCompleteExitsZeroAndKeepsItsCostModel(t *testing.T) {
	dir := t.TempDir()
	_, addr := serve(t, dir, "--emulated-gpus", "1")
	scen := writeScenario(t, dir, "gpus: [1], instances: [1, 2]")
	code, out, errOut := runIaasbench(t, dir, "sweep", "--scenario", scen, "--url", addr, "--results", "r.jsonl", "--report", "off")
	if code != 0 {
		t.Fatalf("complete sweep exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	mustContain(t, "sweep's stderr", errOut, "server.emulated_gpu_profile ignored")
	opLine := "operating point (minimises usd_per_million under p99 <= 500ms)"
	mustContain(t, "sweep --report off", out, opLine, "3.000 USD/h")

	code, out, errOut = runIaasbench(t, dir, "report", "--results", "r.jsonl", "--out", "rep")
	if code != 0 || strings.Contains(errOut, "default prices") {
		t.Fatalf("report exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	mustContain(t, "report", out, opLine, "3.000 USD/h")

	// gate prices every record from its file's header: its usd_per_million
	// must be the 3 USD/h one, a third of what default prices would give.
	recs, err := results.ReadFile(filepath.Join(dir, "r.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	scenPrices := cost.Prices{GPUHour: map[string]float64{"default": 3}}
	want := map[string]float64{}
	for _, r := range results.Points(recs) {
		want[r.Point.Key()] = cost.ExpenseOf(r, scenPrices).USDPerMillion
		if d := cost.ExpenseOf(r, cost.DefaultPrices()).USDPerMillion; math.Abs(d-want[r.Point.Key()]) < 0.2*want[r.Point.Key()] {
			t.Fatalf("default prices give %.3f, the scenario's %.3f: the test cannot tell them apart", d, want[r.Point.Key()])
		}
	}
	_, out, errOut = runIaasbench(t, dir, "gate", "--baseline", "r.jsonl", "--candidate", "r.jsonl", "--json", "-")
	if strings.Contains(errOut, "default prices") {
		t.Fatalf("gate fell back to default prices:\n%s", errOut)
	}
	got := gateFigures(t, out, "usd_per_million")
	if len(got) != len(want) {
		t.Fatalf("gate printed usd_per_million for %d points, want %d:\n%s", len(got), len(want), out)
	}
	for k, w := range want {
		if math.Abs(got[k]-w) > 0.005*w+0.001 {
			t.Fatalf("gate's usd_per_million at %s is %.4f; the scenario's prices give %.4f:\n%s", k, got[k], w, out)
		}
	}

	// A file written before sweeps dropped embedded-only fields at --url
	// holds them under target remote: report drops them with a note and
	// keeps the cost model (the reproduction).
	old := filepath.Join(dir, "old.jsonl")
	writeOldStyleHeader(t, filepath.Join(dir, "r.jsonl"), old)
	code, out, errOut = runIaasbench(t, dir, "report", "--results", "old.jsonl", "--out", "rep-old")
	if code != 0 || strings.Contains(errOut, "default prices") {
		t.Fatalf("report of an old-style header exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	mustContain(t, "report's stderr", errOut, "server.emulated_gpu_profile ignored")
	mustContain(t, "report of an old-style header", out, opLine, "3.000 USD/h")
}

// gateFigures reads the baseline's median of one metric per point from
// gate's JSON report.
func gateFigures(t *testing.T, report, metric string) map[string]float64 {
	t.Helper()
	var doc struct {
		Rows []struct {
			Point      string  `json:"point"`
			Metric     string  `json:"metric"`
			BaseMedian float64 `json:"base_median"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(report), &doc); err != nil {
		t.Fatalf("gate --json -: %v\n%s", err, report)
	}
	out := map[string]float64{}
	for _, r := range doc.Rows {
		if r.Metric == metric {
			out[r.Point] = r.BaseMedian
		}
	}
	return out
}

// writeOldStyleHeader copies a results file, putting the embedded-only
// server.emulated_gpu_profile back into its header's remote scenario.
func writeOldStyleHeader(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	var hdr map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil {
		t.Fatal(err)
	}
	h := hdr["header"].(map[string]any)
	y := h["scenario_yaml"].(string)
	if !strings.Contains(y, "\nserver:\n") || strings.Contains(y, "emulated_gpu_profile") {
		t.Fatalf("unexpected header scenario:\n%s", y)
	}
	h["scenario_yaml"] = strings.Replace(y, "\nserver:\n", "\nserver:\n  emulated_gpu_profile: h200-mlp\n", 1)
	nb, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	lines[0] = string(nb) + "\n"
	if err := os.WriteFile(to, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A server killed mid-sweep: the points measured before stay ok, the rest
// fail their one attempt, and the sweep exits 3 naming how many and where
// the reasons are.
func TestSweepWithServerKilledMidSweepExitsThree(t *testing.T) {
	dir := t.TempDir()
	srv, addr := serve(t, dir, "--emulated-gpus", "1")
	scen := writeScenario(t, dir, "gpus: [1], instances: [1, 2], clients: [1, 2]")
	path := filepath.Join(dir, "r.jsonl")
	sw := start(t, dir, "sweep", "--scenario", scen, "--url", addr, "--results", "r.jsonl", "--report", "off", "--attempts", "1")
	waitFor(t, sw, "a first record", func() bool { return len(pointRecords(path)) > 0 })
	// Frozen, the sweep cannot finish a further point while the server dies.
	sw.pause(t)
	srv.kill(t)
	sw.resume(t)
	code := sw.wait(t)
	errOut := sw.stderr.String()
	recs := pointRecords(path)
	ok := 0
	for _, r := range recs {
		if r.Status == results.StatusOK {
			ok++
		} else if r.Reason == "" {
			t.Fatalf("a failed record without a reason: %+v", r)
		}
	}
	if code != exitPartial {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitPartial, sw.stdout.String(), errOut)
	}
	// One attempt each (--attempts 1): a record per trial, no more.
	if ok < 1 || ok > 2 || len(recs) != 4 {
		t.Fatalf("%d records, %d ok; want 4 records (one attempt per point), 1 or 2 ok", len(recs), ok)
	}
	mustContain(t, "stderr", errOut, "partial:", fmt.Sprintf("%d of 4 planned trials have no ok record", 4-ok), "r.jsonl", "iaasbench results show")
}

// Nothing measurable (the server is gone before the sweep starts): exit 4.
func TestSweepWithNothingMeasuredExitsFour(t *testing.T) {
	dir := t.TempDir()
	srv, addr := serve(t, dir, "--emulated-gpus", "1")
	srv.kill(t)
	scen := writeScenario(t, dir, "gpus: [1], instances: [1, 2]")
	code, out, errOut := runIaasbench(t, dir, "sweep", "--scenario", scen, "--url", addr, "--results", "r.jsonl", "--report", "off")
	if code != exitNothing {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitNothing, out, errOut)
	}
	mustContain(t, "stderr", errOut, "nothing measured: 2 of 2 planned trials have no ok record", "r.jsonl")
	// --attempts defaults to 2, and 2 is what each point got.
	if recs := pointRecords(filepath.Join(dir, "r.jsonl")); len(recs) != 4 {
		t.Fatalf("%d records; want 2 points × 2 attempts", len(recs))
	}
}

// SIGINT stops after the point in flight and exits 130; SIGTERM aborts
// it and exits 143. Each says which signal and what was kept, and the
// file holds what was measured.
func TestSweepSignalsExit130And143(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		say  string
	}{
		{syscall.SIGINT, exitSIGINT, "SIGINT: stopped after the point in flight: kept "},
		{syscall.SIGTERM, exitSIGTERM, "SIGTERM: aborted the point in flight: kept "},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			scen := writeScenario(t, dir, "instances: [1, 2, 3], clients: [1, 2]")
			path := filepath.Join(dir, "r.jsonl")
			sw := start(t, dir, "sweep", "--scenario", scen, "--results", "r.jsonl", "--report", "off")
			waitFor(t, sw, "a first record", func() bool { return len(pointRecords(path)) > 0 })
			sw.pause(t) // the signal is then delivered before any further point ends
			if err := sw.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			sw.resume(t)
			code := sw.wait(t)
			errOut := sw.stderr.String()
			if code != tc.code {
				t.Fatalf("exit %d after %v, want %d\nstderr:\n%s", code, tc.sig, tc.code, errOut)
			}
			mustContain(t, "stderr", errOut, tc.say, "r.jsonl", "the same command resumes")
			recs, err := results.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(results.Points(recs)); n < 1 || n >= 6 {
				t.Fatalf("%d point records after the signal; want the ones measured, fewer than 6", n)
			}
		})
	}
}

// One writer per results file: a second sweep on a file being written
// fails at once naming the first's pid; the first completes and the file
// reads back whole.
func TestSecondSweepOnTheSameFileFailsAtOnce(t *testing.T) {
	dir := t.TempDir()
	scen := writeScenario(t, dir, "instances: [1, 2], clients: [1, 2]")
	path := filepath.Join(dir, "r.jsonl")
	first := start(t, dir, "sweep", "--scenario", scen, "--results", "r.jsonl", "--report", "off")
	waitFor(t, first, "the first sweep's lock", func() bool {
		_, err := os.Stat(path + results.LockSuffix)
		return err == nil
	})
	first.pause(t) // holding the lock, whatever the machine's load
	code, out, errOut := runIaasbench(t, dir, "sweep", "--scenario", scen, "--results", "r.jsonl", "--report", "off")
	first.resume(t)
	if code != 1 {
		t.Fatalf("second sweep exited %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	mustContain(t, "second sweep's stderr", errOut, "r.jsonl is being written by another iaasbench", fmt.Sprintf("pid %d", first.cmd.Process.Pid))
	if c := first.wait(t); c != 0 {
		t.Fatalf("first sweep exited %d\nstderr:\n%s", c, first.stderr.String())
	}
	code, out, errOut = runIaasbench(t, dir, "results", "show", "r.jsonl")
	if code != 0 {
		t.Fatalf("results show exited %d: %s", code, errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), "\n") || strings.Count(string(b), "\n") != 5 {
		t.Fatalf("file has %d lines (want a header and 4 points, each whole):\n%s", strings.Count(string(b), "\n"), b)
	}
	if n := strings.Count(out, " ok"); n != 4 {
		t.Fatalf("results show lists %d ok points, want 4:\n%s", n, out)
	}
	if _, err := os.Stat(path + results.LockSuffix); !os.IsNotExist(err) {
		t.Fatalf("lock sidecar left behind: %v", err)
	}
}

// simulate is a writer like any other: it refuses a file another writer
// holds, and leaves it untouched.
func TestSimulateRefusesAFileBeingWritten(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sim.jsonl")
	w, err := results.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = runSimulate(context.Background(), []string{"--scenario", "quickstart", "--out", path}, io.Discard)
	if !errors.Is(err, results.ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("simulate onto a held file: %v", err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Fatalf("the held file was touched: %v, %v", st, err)
	}
}
