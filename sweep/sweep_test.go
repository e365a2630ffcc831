package sweep_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/sweep"
)

const calibratedScenario = `
name: sweep-test
workload: {model: calibrated, mode: closed, rpc: unary}
dimensions:
  instances: [1, 2]
  clients: [4]
server:
  calibrated: {base_us: 5000, per_item_us: 0}
measure: {warmup: 100ms, duration: 400ms}
cost:
  prices: {node_hour: 1}
  objective: usd_per_million
`

func parse(t *testing.T, y string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse([]byte(y), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func okPoints(recs []results.Record) map[string][]results.Record {
	out := map[string][]results.Record{}
	for _, r := range results.Points(recs) {
		if r.Status == results.StatusOK {
			out[r.Point.Key()] = append(out[r.Point.Key()], r)
		}
	}
	return out
}

// sweepCalibrated sweeps calibratedScenario (1 and 2 instances of a 5 ms
// model, 4 clients) on the embedded server into path.
func sweepCalibrated(t *testing.T, path string) (*scenarios.Scenario, *sweep.Summary) {
	t.Helper()
	s := parse(t, calibratedScenario)
	sum, err := sweep.Run(context.Background(), sweep.Options{Attempts: 2, Scenario: s, ResultsPath: path, Measure: sweep.MeasureWith(quiet(), nil), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return s, sum
}

// A sweep on the embedded server measures every point plausibly (no
// figure below the model's 5 ms), writes its header and resumes. That two
// instances double the throughput is TestTimingInstancesDoubleThroughput
// (make test-timing).
func TestSweepEndToEndOnEmbeddedServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	s, sum := sweepCalibrated(t, path)
	ok := okPoints(sum.Records)
	if len(ok) != 2 || sum.Measured != 2 || sum.Outcome != sweep.Complete {
		t.Fatalf("want 2 ok points, got %d (measured %d, failed %d, outcome %v)", len(ok), sum.Measured, sum.Failed, sum.Outcome)
	}
	for _, recs := range ok {
		r := recs[0]
		m := r.Measurement
		if m.Requests == 0 || m.Latency.P50US < 4500 || m.Server == nil || m.Server.ComputeInferUS < 4500 {
			t.Fatalf("implausible measurement at %s: requests %d p50 %.0fus compute %v", r.Point.Key(), m.Requests, m.Latency.P50US, m.Server)
		}
	}
	hdr := results.HeaderOf(sum.Records)
	if hdr == nil || hdr.ScenarioYAML == "" || hdr.Env.CPUs == 0 {
		t.Fatalf("header missing or incomplete: %+v", hdr)
	}
	// A second run resumes: nothing left to measure.
	sum2, err := sweep.Run(context.Background(), sweep.Options{Attempts: 2, Scenario: s, ResultsPath: path, Measure: sweep.MeasureWith(quiet(), nil), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Measured != 0 || sum2.Skipped != 2 {
		t.Fatalf("resume measured %d, skipped %d; want 0 and 2", sum2.Measured, sum2.Skipped)
	}
}

func TestServerDyingDuringAPointIsRecordedAndSweepGoesOn(t *testing.T) {
	s := parse(t, calibratedScenario)
	path := filepath.Join(t.TempDir(), "r.jsonl")
	target, err := sweep.NewEmbedded(s, quiet(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	killed := false
	base := sweep.MeasureWith(quiet(), nil)
	measure := func(ctx context.Context, dep *sweep.Deployment, s *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		if p.Instances == 1 && !killed {
			killed = true
			srv := target.Servers()[0]
			time.AfterFunc(250*time.Millisecond, srv.Stop)
		}
		return base(ctx, dep, s, p)
	}
	sum, err := sweep.Run(context.Background(), sweep.Options{Attempts: 2, Scenario: s, ResultsPath: path, Target: target, Measure: measure, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	var failed []results.Record
	for _, r := range results.Points(sum.Records) {
		if r.Status != results.StatusOK {
			failed = append(failed, r)
		}
	}
	if len(failed) != 1 || failed[0].Point.Instances != 1 || failed[0].Reason == "" {
		t.Fatalf("want one failed/incomplete record for the killed point with a reason, got %d: %+v", len(failed), failed)
	}
	if ok := okPoints(sum.Records); len(ok) != 2 {
		t.Fatalf("after the server died the sweep should retry on a fresh server and finish every point; ok points: %d", len(ok))
	}
}

// TestKill9LosesAtMostThePointInFlight kills a sweep process with SIGKILL
// mid-run, runs it again, and finds every point exactly once.
func TestKill9LosesAtMostThePointInFlight(t *testing.T) {
	if os.Getenv("IAASBENCH_SWEEP_CHILD") != "" {
		t.Skip("child")
	}
	dir := t.TempDir()
	scen := filepath.Join(dir, "s.yaml")
	y := `
name: kill-test
workload: {model: calibrated, mode: closed, rpc: unary}
dimensions: {instances: [1, 2, 3], clients: [1, 2]}
server: {calibrated: {base_us: 2000}}
measure: {warmup: 50ms, duration: 250ms}
cost: {prices: {node_hour: 1}}
`
	if err := os.WriteFile(scen, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "r.jsonl")
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestSweepChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "IAASBENCH_SWEEP_CHILD="+scen, "IAASBENCH_SWEEP_RESULTS="+path)
		return cmd
	}
	cmd := child()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		recs, _ := results.ReadFile(path)
		if len(results.Points(recs)) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("child sweep made no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	before, err := results.ReadFile(path)
	if err != nil {
		t.Fatalf("results file unreadable after kill -9: %v", err)
	}
	if n := len(results.Points(before)); n >= 6 {
		t.Fatalf("the child finished (%d points) before it was killed; the test proves nothing", n)
	}
	out, err := child().CombinedOutput()
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	recs, err := results.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ok := okPoints(recs)
	if len(ok) != 6 {
		t.Fatalf("after kill -9 and a re-run, %d distinct ok points; want all 6", len(ok))
	}
	for k, rs := range ok {
		if len(rs) != 1 {
			t.Errorf("point %s recorded ok %d times", k, len(rs))
		}
	}
	headers := 0
	for _, r := range recs {
		if r.Kind == results.KindHeader {
			headers++
		}
	}
	if headers != 1 {
		t.Errorf("%d header records; the resumed sweep must append to the first", headers)
	}
}

// TestSweepChild is the child process of the kill -9 test.
func TestSweepChild(t *testing.T) {
	scen := os.Getenv("IAASBENCH_SWEEP_CHILD")
	if scen == "" {
		t.Skip("only run as the child of TestKill9LosesAtMostThePointInFlight")
	}
	s, err := scenarios.Load(scen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sweep.Run(context.Background(), sweep.Options{Attempts: 2, Scenario: s, ResultsPath: os.Getenv("IAASBENCH_SWEEP_RESULTS"),
		Measure: sweep.MeasureWith(quiet(), nil), Logger: quiet()}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("child done")
}

func TestStopEndsAfterThePointInFlight(t *testing.T) {
	s := parse(t, calibratedScenario)
	path := filepath.Join(t.TempDir(), "r.jsonl")
	stop := make(chan struct{})
	base := sweep.MeasureWith(quiet(), nil)
	measure := func(ctx context.Context, dep *sweep.Deployment, s *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		select {
		case <-stop:
		default:
			close(stop) // Ctrl-C arrives during the first point
		}
		return base(ctx, dep, s, p)
	}
	sum, err := sweep.Run(context.Background(), sweep.Options{Attempts: 2, Scenario: s, ResultsPath: path, Measure: measure, Stop: stop, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Stopped || sum.Measured != 1 || len(okPoints(sum.Records)) != 1 {
		t.Fatalf("stop during the first point: stopped=%v measured=%d; want the first point finished and recorded, then a stop", sum.Stopped, sum.Measured)
	}
}

// Points on emulated GPUs carry the devices' call durations (what the
// simulator's validation draws from); CPU points carry none.
func TestEmbeddedGPUPointsRecordDeviceCalls(t *testing.T) {
	s := parse(t, `
name: device-calls
workload: {model: calibrated, mode: closed, rpc: unary}
dimensions:
  gpus: [0, 1]
  clients: [2]
server:
  calibrated: {base_us: 2000, per_item_us: 0}
measure: {warmup: 100ms, duration: 300ms}
`)
	path := filepath.Join(t.TempDir(), "r.jsonl")
	sum, err := sweep.Run(context.Background(), sweep.Options{Attempts: 2, Scenario: s, ResultsPath: path, Measure: sweep.MeasureWith(quiet(), nil), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := results.ReadFile(path) // as written, not only as returned
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, r := range results.Points(recs) {
		m := r.Measurement
		if r.Status != results.StatusOK || m == nil {
			t.Fatalf("point %s: %s %s", r.Point.Key(), r.Status, r.Reason)
		}
		seen++
		if r.Point.GPUs == 0 {
			if m.DeviceCalls != nil {
				t.Fatalf("CPU point recorded %d device calls", m.DeviceCalls.Count)
			}
			continue
		}
		// Warm-up included: at least as many calls as measured requests.
		if m.DeviceCalls == nil || m.DeviceCalls.Count < m.Requests {
			t.Fatalf("GPU point: device calls %+v for %d requests", m.DeviceCalls, m.Requests)
		}
	}
	if seen != 2 || sum.Measured != 2 {
		t.Fatalf("%d points read, %d measured; want 2", seen, sum.Measured)
	}
}
