package agent_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/server"
)

// TestMain lets this test binary act as an agent process.
func TestMain(m *testing.M) {
	if out := os.Getenv("IAASBENCH_SERVE_ADDR_FILE"); out != "" {
		// An embedded server in a process of its own (benchmarks).
		srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			os.Exit(1)
		}
		// Rename so that the parent never reads a half-written address.
		os.WriteFile(out+".tmp", []byte(srv.Addr()), 0o644)
		os.Rename(out+".tmp", out)
		select {}
	}
	if url := os.Getenv("IAASBENCH_AGENT_URL"); url != "" {
		err := agent.RunAgent(context.Background(), url, os.Getenv("IAASBENCH_AGENT_NAME"), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func selfAgent(url, name string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "IAASBENCH_AGENT_URL="+url, "IAASBENCH_AGENT_NAME="+name)
	return cmd
}

func TestMergedPercentilesEqualTheUnion(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var all []int64
	var parts []*results.Measurement
	for a := 0; a < 4; a++ {
		h := &hist.Histogram{}
		for i := 0; i < 20000; i++ {
			// Agents see different latency distributions.
			v := int64((1 + float64(a)) * 1e5 * math.Exp(rng.NormFloat64()*0.5))
			h.Record(v)
			all = append(all, v)
		}
		hr := h.ToResults()
		parts = append(parts, &results.Measurement{Requests: h.Count(), Inferences: h.Count(), DurationS: 1, ThroughputRPS: float64(h.Count()),
			ThroughputIPS: float64(h.Count()), Histogram: &hr, Stable: true, Windows: []results.Window{{DurationS: 1, ThroughputIPS: float64(h.Count())}}})
	}
	m, err := agent.Merge(parts, 4)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	exact := func(q float64) float64 { return float64(all[int(math.Ceil(q*float64(len(all))))-1]) / 1e3 }
	for _, c := range []struct {
		q   float64
		got float64
	}{{0.5, m.Latency.P50US}, {0.9, m.Latency.P90US}, {0.99, m.Latency.P99US}, {0.999, m.Latency.P999US}} {
		if rel := math.Abs(c.got-exact(c.q)) / exact(c.q); rel > hist.RelativeError*1.01 {
			t.Errorf("merged p%g = %.1fus, union %.1fus (%.2f%% off, resolution %.2f%%)", c.q*100, c.got, exact(c.q), rel*100, hist.RelativeError*100)
		}
	}
	if m.Requests != int64(len(all)) || m.ThroughputIPS != float64(len(all)) || m.Incomplete {
		t.Fatalf("merged counts: %d requests, %.0f/s, incomplete %v", m.Requests, m.ThroughputIPS, m.Incomplete)
	}
	short, _ := agent.Merge(parts[:3], 4)
	if !short.Incomplete || !strings.Contains(short.Error, "1 of 4 agents") {
		t.Fatalf("a missing agent must make the merge incomplete: %+v", short.Error)
	}
}

func embedded(t testing.TB) *server.Server {
	t.Helper()
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// Two agents measure one point together and their figures merge: the
// calibrated model's service time (1 ms + 50 us per item) is a floor no
// load can lower. How close the merged throughput comes to the model's
// capacity is TestTimingLocalAgentsThroughput (make test-timing).
func TestLocalAgentsMeasureTogether(t *testing.T) {
	m := measureWithTwoAgents(t)
	if m.Requests == 0 || m.Incomplete || m.ThroughputRPS <= 0 {
		t.Fatalf("merged measurement of 2 agents: %d requests, %.0f/s, incomplete %v (%s)", m.Requests, m.ThroughputRPS, m.Incomplete, m.Error)
	}
	if m.Latency.P50US < 1000 {
		t.Fatalf("p50 %.0fus is below the model's service time", m.Latency.P50US)
	}
}

// measureWithTwoAgents measures the calibrated model with four clients
// spread over two local agents.
func measureWithTwoAgents(t *testing.T) *results.Measurement {
	t.Helper()
	srv := embedded(t)
	pool, err := agent.StartPool(2, selfAgent)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	opts := measure.Options{Addrs: []string{srv.Addr()}, Model: "calibrated", Clients: 4, Warmup: 100 * time.Millisecond, Duration: 400 * time.Millisecond, NoTelemetry: true}
	m, err := pool.Measure(context.Background(), opts, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAgentKilledMidPointMakesItIncomplete(t *testing.T) {
	srv := embedded(t)
	pool, err := agent.StartPool(2, selfAgent)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	go func() {
		time.Sleep(600 * time.Millisecond)
		pool.Local().Processes()[1].Kill()
	}()
	opts := measure.Options{Addrs: []string{srv.Addr()}, Model: "calibrated", Clients: 4, Warmup: 100 * time.Millisecond, Duration: 800 * time.Millisecond, NoTelemetry: true}
	m, err := pool.Measure(context.Background(), opts, 2, 5*time.Second)
	if err == nil || m == nil || !m.Incomplete {
		t.Fatalf("an agent killed mid-point: err %v, measurement %+v; want an incomplete measurement and an error", err, m)
	}
	if m.Requests == 0 {
		t.Fatal("the surviving agent's figures were lost")
	}
}

func TestSplitSpreadsClientsAndSequenceIDs(t *testing.T) {
	plans, err := agent.Split(measure.Options{Clients: 7, Requests: 700, SequenceIDBase: 10}, 3, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	total, reqs := 0, int64(0)
	for i, p := range plans {
		total += p.Opts.Clients
		reqs += p.Opts.Requests
		if i > 0 && p.Opts.SequenceIDBase-plans[i-1].Opts.SequenceIDBase < int64(p.Opts.Clients) {
			t.Fatal("correlation ids of agents overlap")
		}
	}
	if total != 7 || reqs != 700 {
		t.Fatalf("split: %d clients, %d requests", total, reqs)
	}
	if _, err := agent.Split(measure.Options{Clients: 2}, 3, time.Now()); err == nil {
		t.Fatal("2 clients over 3 agents accepted")
	}
}

// An agent takes one share of a measurement: two shares run one after
// the other would be merged as if they had overlapped.
func TestOneAgentTakesOneShare(t *testing.T) {
	srv := embedded(t)
	pool, err := agent.StartPool(1, selfAgent)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	opts := measure.Options{Addrs: []string{srv.Addr()}, Model: "calibrated", Clients: 2, Warmup: 100 * time.Millisecond, Duration: 300 * time.Millisecond, NoTelemetry: true}
	m, err := pool.Measure(context.Background(), opts, 2, time.Second)
	if err == nil || m == nil || !m.Incomplete || !strings.Contains(m.Error, "share 1") {
		t.Fatalf("one agent for two shares: err %v, measurement %+v", err, m)
	}
}
