//go:build timing

// Checks of measured time: they hold on a machine doing nothing else
// (make test-timing runs them one package at a time) and say nothing on a
// busy one, where every call is stretched by however long the scheduler
// keeps a ready goroutine waiting. Each tolerance is argued beside it.

package measure

import (
	"context"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/workload"
)

func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector slows every call several times: timing checks mean nothing under it")
	}
}

// The figures of a 40 ms call at concurrency 1 come close to it.
func TestTimingCalibratedServiceTime(t *testing.T) {
	skipUnderRace(t)
	m := measureCalibrated(t, calibratedServiceUS)
	if m.Server == nil {
		t.Fatal("no server breakdown")
	}
	// The server times the emulated call, a 40 ms sleep: an idle machine
	// wakes it within ~0.1 ms (0.25%); 3% (1.2 ms) leaves room for one
	// late wake-up of the instance's goroutine per call.
	if m.Server.ComputeInferUS > calibratedServiceUS*1.03 {
		t.Errorf("compute_infer %.1f µs per request, want within 3%% above the %d µs service time", m.Server.ComputeInferUS, calibratedServiceUS)
	}
	// The client adds a loopback gRPC round trip (~0.1-0.3 ms idle) and
	// its own wake-up: 5% is 2 ms.
	if m.Latency.P50US > calibratedServiceUS*1.05 {
		t.Errorf("client p50 %.0f µs, want within 5%% above the %d µs service time", m.Latency.P50US, calibratedServiceUS)
	}
	// Closed loop at concurrency 1: throughput is 1 / latency, less the
	// client's turnaround between a response and the next request (tens
	// of µs idle, well under 5% of 40 ms).
	if !within(m.ThroughputRPS, 1e6/m.Latency.MeanUS, 0.05) {
		t.Errorf("throughput %.1f req/s, want 1/mean latency = %.1f", m.ThroughputRPS, 1e6/m.Latency.MeanUS)
	}
}

// Outside the stall, open loop keeps its schedule and its latency.
func TestTimingOpenLoopShowsStall(t *testing.T) {
	skipUnderRace(t)
	open, closed := measureStall(t)
	// mlp answers in well under 1 ms idle; requests not due during the
	// 200 ms stall (three quarters of the 800 ms window) see that, and
	// the median sits among them. 20 ms leaves room for the backlog the
	// stall releases to drain.
	if open.Latency.P50US > 20e3 {
		t.Errorf("open loop p50 %.0f µs: most requests should not see the stall", open.Latency.P50US)
	}
	// The schedule is 200 requests/s; the stalled ones are sent late but
	// inside the window: 10% covers the window's edges (±2 requests of
	// 160) and a backlog still in flight at its end.
	if !within(open.ThroughputRPS, 200, 0.1) {
		t.Errorf("open loop throughput %.0f req/s, want the 200/s schedule", open.ThroughputRPS)
	}
	// A closed loop has one request stalled, among thousands of sub-ms
	// ones: its p99 stays far below the open loop's, whose p99 holds the
	// ~40 requests due during the stall. A factor 4 is a wide margin on
	// an idle machine (it is typically ~100).
	if closed.Latency.P99US > open.Latency.P99US/4 {
		t.Errorf("closed loop p99 %.0f µs not far below open loop's %.0f µs", closed.Latency.P99US, open.Latency.P99US)
	}
}

// Each load mode manages a real load, the server's count matches the
// client's, and open loop keeps to its rate.
func TestTimingLoadModes(t *testing.T) {
	skipUnderRace(t)
	for _, tc := range loadModeCases() {
		t.Run(tc.name, func(t *testing.T) {
			o, m := measureLoadMode(t, tc.set)
			// 2-3 windows of 200 ms of mlp at batch 8, ~1 ms a call idle:
			// at least several hundred requests; 50 is a floor that only a
			// machine busy elsewhere misses.
			if m.Requests < 50 {
				t.Errorf("%d requests in %.2f s", m.Requests, m.DurationS)
			}
			// The server counts between its statistics calls, the client
			// between its window edges; idle, they are < 1 ms apart, i.e.
			// a few requests of hundreds: 10% is wide.
			if s := m.Server; s == nil || !within(float64(s.RequestCount), float64(m.Requests), 0.1) {
				t.Errorf("server breakdown %+v does not match %d requests", m.Server, m.Requests)
			}
			// The schedule is seeded and exact; 15% covers the window's
			// edges (±1 request per client of ~80-120) and requests still
			// in flight at the end, which count in the next window.
			if o.Mode == workload.ModeOpen && !within(m.ThroughputRPS, o.Rate*float64(o.Clients), 0.15) {
				t.Errorf("open loop throughput %.0f req/s, want %g", m.ThroughputRPS, o.Rate*float64(o.Clients))
			}
		})
	}
}

// Constant arrivals of 10/s at a 15 ms model barely queue.
func TestTimingFrameBursts(t *testing.T) {
	skipUnderRace(t)
	c := measureArrivals(t, workload.ArrivalConstant)
	// A request every 100 ms and a 15 ms call: none waits for another.
	// 60 ms is the call plus 45 ms of slack for a late timer or send.
	if c.Latency.MaxUS > 60e3 {
		t.Errorf("constant arrivals: max latency %.0f µs, want about one service time", c.Latency.MaxUS)
	}
}

// A server that dies mid-window is noticed promptly.
func TestTimingServerDeathIsNoticed(t *testing.T) {
	skipUnderRace(t)
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	o := quick(srv.Addr(), "mlp")
	o.Clients, o.Duration = 2, 3*time.Second
	go func() { time.Sleep(o.Warmup + 300*time.Millisecond); srv.Stop() }()
	began := time.Now()
	m, err := Run(context.Background(), o)
	if err == nil || m == nil {
		t.Fatalf("err %v measurement %v: want both", err, m)
	}
	// Idle, the measurement starts within a few ms, so the server lives
	// ~300 ms past the warm-up: at least one whole 200 ms window, whose
	// statistics were read.
	if m.Server == nil || m.Server.RequestCount == 0 || m.DurationS < 0.2 {
		t.Errorf("server breakdown %+v, %.2f s measured before the server died", m.Server, m.DurationS)
	}
	// The server dies ~0.4 s in; clients give up after ErrorGrace
	// (500 ms) of nothing but failures. 2.5 s is that plus more than 1 s
	// to spare, and well short of the 3 s window a hang would run out.
	if d := time.Since(began); d > 2500*time.Millisecond {
		t.Errorf("took %v to notice the server died", d)
	}
}

// Two servers' statistics together match the client's count.
func TestTimingTwoServersCount(t *testing.T) {
	skipUnderRace(t)
	a, b := startServer(t), startServer(t)
	o := quick(a.Addr(), "mlp")
	o.Addrs = append(o.Addrs, b.Addr())
	o.Clients = 2
	m, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// As in TestTimingLoadModes, the reads follow the window's edges
	// within ~1 ms on an idle machine: a few requests of thousands.
	if m.Server == nil || !within(float64(m.Server.RequestCount), float64(m.Requests), 0.05) {
		t.Errorf("server counts %+v for %d requests over both servers", m.Server, m.Requests)
	}
}
