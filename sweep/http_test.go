package sweep_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/sweep"
)

// The embedded target serves HTTP too: workload.protocol http drives the
// load and applies each point's instances over KServe v2 REST.
func TestEmbeddedOverHTTP(t *testing.T) {
	s := parse(t, strings.Replace(calibratedScenario, "rpc: unary}", "rpc: unary, protocol: http}", 1))
	target, err := sweep.NewEmbedded(s, quiet(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	path := filepath.Join(t.TempDir(), "r.jsonl")
	sum, err := sweep.Run(context.Background(), sweep.Options{Attempts: 2, Scenario: s, ResultsPath: path, Target: target, Measure: sweep.MeasureWith(quiet(), nil), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ok := okPoints(sum.Records)
	if len(ok) != 2 {
		t.Fatalf("want 2 ok points, got %d (failed %d)", len(ok), sum.Failed)
	}
	last := 0
	for _, recs := range ok {
		m := recs[0].Measurement
		if c := results.ConnectionOf(m); c.Protocol != "http" || c.Encoding != client.EncodingBinary {
			t.Errorf("point %s measured over %s, want http (binary)", recs[0].Point.Key(), c)
		}
		if m.Server == nil || m.Server.RequestCount == 0 {
			t.Errorf("point %s: no server statistics over HTTP", recs[0].Point.Key())
		}
		last = max(last, recs[0].Point.Instances)
	}
	// The server runs what the last point asked for, applied over HTTP.
	srv := target.Servers()[0]
	c, err := client.Connect(srv.HTTPURL(), client.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg, err := c.ModelConfig(context.Background(), "calibrated", "")
	if err != nil || len(cfg.GetInstanceGroup()) != 1 || int(cfg.GetInstanceGroup()[0].GetCount()) != last {
		t.Errorf("after the sweep the model has instance groups %v (%v), want %d instances", cfg.GetInstanceGroup(), err, last)
	}
}

// A remote server that requires a token, reached over HTTP with the token
// in target.headers: from the environment (${VAR}) or written literally;
// either way it appears nowhere in the results file.
func TestRemoteHTTPWithToken(t *testing.T) {
	const token = "sweep-tok-0a1b2c3d"
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MetricsAddr: "off", AuthToken: token, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	t.Setenv("SWEEP_TEST_TOKEN", token)
	for _, value := range []string{"Bearer ${SWEEP_TEST_TOKEN}", "Bearer " + token} {
		s := parse(t, calibratedScenario)
		s.Target.Kind, s.Target.URLs = "remote", []string{srv.HTTPURL()}
		s.Target.Headers = map[string]string{"authorization": value}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "r.jsonl")
		target, err := sweep.NewTarget(context.Background(), s, quiet(), "test", "")
		if err != nil {
			t.Fatal(err)
		}
		sum, err := sweep.Run(context.Background(), sweep.Options{Attempts: 2, Scenario: s, ResultsPath: path, Target: target, Measure: sweep.MeasureWith(quiet(), nil), Logger: quiet()})
		target.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(okPoints(sum.Records)) != 2 {
			t.Fatalf("%s: want 2 ok points, got failed %d: %v", value, sum.Failed, sum.Records)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), token) {
			t.Errorf("%s: the results file holds the token", value)
		}
		if !strings.Contains(string(b), `"headers":["authorization"]`) {
			t.Errorf("%s: the results file does not name the header sent", value)
		}
	}
	// Without the header the point fails, saying why.
	s := parse(t, calibratedScenario)
	s.Target.Kind, s.Target.URLs = "remote", []string{srv.HTTPURL()}
	target, err := sweep.NewTarget(context.Background(), s, quiet(), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	sum, err := sweep.Run(context.Background(), sweep.Options{Scenario: s, ResultsPath: filepath.Join(t.TempDir(), "r.jsonl"), Target: target,
		Measure: sweep.MeasureWith(quiet(), nil), Logger: quiet(), Attempts: 1})
	if sum == nil {
		t.Fatalf("no summary: %v", err)
	}
	pts := results.Points(sum.Records)
	if len(pts) == 0 {
		t.Fatalf("no record of the failed points (%v)", err)
	}
	for _, r := range pts {
		if r.Status == results.StatusOK || r.Measurement != nil || !strings.Contains(r.Reason, "missing credentials") {
			t.Errorf("point without a token: status %s reason %q", r.Status, r.Reason)
		}
	}
	t.Logf("%s", pts[0].Reason)
}
