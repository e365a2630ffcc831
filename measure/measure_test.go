package measure

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/workload"
)

func within(got, want, frac float64) bool { return math.Abs(got-want) <= frac*want }

// The calibrated model's service time is known, so a measurement of it at
// concurrency 1 can never undercut it, and its counts must agree: the
// server's and the client's, the histogram's and the requests'. How close
// the figures come to the service time is TestTimingCalibratedServiceTime
// (make test-timing): a busy machine stretches every call.
func TestCalibratedServiceTimeIsMeasured(t *testing.T) {
	m := measureCalibrated(t, 40000)
	if m.Server == nil {
		t.Fatal("no server breakdown")
	}
	// A call sleeps its service time: the server's compute time and the
	// client's latency can only be longer (0.5% for clock granularity).
	if m.Server.ComputeInferUS < calibratedServiceUS*0.995 {
		t.Errorf("compute_infer %.1f µs per request, below the %d µs service time", m.Server.ComputeInferUS, calibratedServiceUS)
	}
	if m.Latency.P50US < calibratedServiceUS {
		t.Errorf("client p50 %.0f µs, below the %d µs service time", m.Latency.P50US, calibratedServiceUS)
	}
	// One request in flight: the two counts differ by at most that one.
	if got := uint64(m.Requests); m.Requests == 0 || m.Server.RequestCount < got-1 || m.Server.RequestCount > got+1 {
		t.Errorf("server counted %d requests in the window, client %d", m.Server.RequestCount, got)
	}
	if m.Histogram == nil || m.Histogram.Count != m.Requests {
		t.Errorf("histogram %+v does not hold the %d requests", m.Histogram, m.Requests)
	}
}

// calibratedServiceUS is the service time measureCalibrated configures:
// long, so that what a machine adds to any round trip stays a small
// fraction of it.
const calibratedServiceUS = 40000

// measureCalibrated measures the calibrated model at concurrency 1 for 1 s.
func measureCalibrated(t *testing.T, serviceUS int) *results.Measurement {
	t.Helper()
	srv := startServer(t)
	loadCalibrated(t, srv.Addr(), map[string]string{"base_us": strconv.Itoa(serviceUS), "per_item_us": "0"}, 1)
	o := quick(srv.Addr(), "calibrated")
	o.Duration = time.Second
	m, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if m.Server != nil {
		t.Logf("requests %d, p50 %.0f µs, mean %.0f µs, compute_infer %.1f µs, overhead %.0f µs",
			m.Requests, m.Latency.P50US, m.Latency.MeanUS, m.Server.ComputeInferUS, m.Server.ClientOverheadUS)
	}
	return m
}

// stallProxy forwards TCP to a backend and can stall all traffic, as a
// server that stops answering for a while does.
type stallProxy struct {
	lis  net.Listener
	gate sync.RWMutex
}

func newStallProxy(t *testing.T, backend string) *stallProxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{lis: lis}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			go p.pipe(c, b)
			go p.pipe(b, c)
		}
	}()
	return p
}

func (p *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate.RLock()
			_, werr := dst.Write(buf[:n])
			p.gate.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) stall(d time.Duration) {
	p.gate.Lock()
	time.Sleep(d)
	p.gate.Unlock()
}

// In open loop a stall shows in the tail: requests due during it are
// timed from when they were due, not from when the client got to send
// them. A closed loop hides it (coordinated omission). The stall is 200 ms
// of silence, so the bounds below are ones a busy machine can only
// exceed; how far below the stall the rest stays is
// TestTimingOpenLoopShowsStall.
func TestOpenLoopShowsStall(t *testing.T) {
	open, closed := measureStall(t)
	if open.Latency.P99US < 100e3 {
		t.Errorf("open loop p99 %.0f µs: the 200 ms stall does not show", open.Latency.P99US)
	}
	if closed.Latency.MaxUS < 150e3 {
		t.Errorf("closed loop max %.0f µs: the stalled request should show", closed.Latency.MaxUS)
	}
}

// measureStall measures mlp through a proxy that stalls 200 ms into the
// window, in open loop (200 requests/s) and in closed loop.
func measureStall(t *testing.T) (open, closed *results.Measurement) {
	t.Helper()
	srv := startServer(t)
	proxy := newStallProxy(t, srv.Addr())
	run := func(mode string) *results.Measurement {
		o := quick(proxy.lis.Addr().String(), "mlp")
		o.Mode = mode
		if mode == workload.ModeOpen {
			o.Rate = 200
		}
		o.Duration = 800 * time.Millisecond
		// 300 ms into the window however slowly the measurement starts:
		// counted from this run's first answered request.
		seen := answered(srv.Addr(), "mlp")
		go func() {
			waitForAnswers(srv.Addr(), "mlp", seen)
			time.Sleep(o.Warmup + 300*time.Millisecond)
			proxy.stall(200 * time.Millisecond)
		}()
		m, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d requests, p50 %.0f µs, p99 %.0f µs, max %.0f µs", mode, m.Requests, m.Latency.P50US, m.Latency.P99US, m.Latency.MaxUS)
		return m
	}
	return run(workload.ModeOpen), run(workload.ModeClosed)
}

// loadModeCases are the load modes both TestLoadModes and
// TestTimingLoadModes drive.
func loadModeCases() []struct {
	name string
	set  func(*Options)
} {
	return []struct {
		name string
		set  func(*Options)
	}{
		{"closed-unary", func(o *Options) { o.Clients, o.Concurrency = 2, 2 }},
		{"closed-unary-shared-conn", func(o *Options) { o.Clients, o.SharedConnection = 3, true }},
		{"closed-stream", func(o *Options) { o.RPC, o.Clients, o.Concurrency = workload.RPCStream, 2, 3 }},
		{"closed-stream-serial", func(o *Options) { o.RPC = workload.RPCStream }},
		{"open-unary-constant", func(o *Options) { o.Mode, o.Clients, o.Rate = workload.ModeOpen, 2, 200 }},
		{"open-stream-poisson", func(o *Options) {
			o.Mode, o.RPC, o.Arrival, o.Clients, o.Rate = workload.ModeOpen, workload.RPCStream, workload.ArrivalPoisson, 2, 200
		}},
	}
}

// measureLoadMode measures mlp at batch 8 in one load mode on a server of
// its own (statistics count every client of the model).
func measureLoadMode(t *testing.T, set func(*Options)) (Options, *results.Measurement) {
	t.Helper()
	srv := startServer(t)
	o := quick(srv.Addr(), "mlp")
	o.BatchSize = 8
	set(&o)
	m, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return o, m
}

// Every load mode measures, counts consistently and labels what it did.
// How many requests it manages and how close open loop keeps to its
// schedule is TestTimingLoadModes.
func TestLoadModes(t *testing.T) {
	for _, tc := range loadModeCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, m := measureLoadMode(t, tc.set)
			if m.Requests == 0 || m.Errors != 0 || m.Incomplete {
				t.Fatalf("requests %d errors %d incomplete %v", m.Requests, m.Errors, m.Incomplete)
			}
			if m.Inferences != 8*m.Requests || !within(m.ThroughputIPS, 8*m.ThroughputRPS, 1e-9) {
				t.Errorf("inferences %d for %d requests of batch 8", m.Inferences, m.Requests)
			}
			mode, rpc := o.Mode, o.RPC
			if mode == "" {
				mode = workload.ModeClosed
			}
			if rpc == "" {
				rpc = workload.RPCUnary
			}
			// Two stable windows end it, three at most (quick's options).
			if m.Mode != mode || m.RPC != rpc || len(m.Windows) < 2 || len(m.Windows) > 3 {
				t.Errorf("mode %q rpc %q windows %d", m.Mode, m.RPC, len(m.Windows))
			}
			// Inferences are counted when a batch executes, requests when
			// they succeed: they differ by the batches in flight at a
			// statistics call, at most one per slot.
			slots := int64(max(o.Clients, 1) * max(o.Concurrency, 1))
			if o.Mode == workload.ModeOpen && o.Concurrency == 0 {
				slots = int64(max(o.Clients, 1) * 64) // measure's open-loop default
			}
			if s := m.Server; s == nil || s.RequestCount == 0 || absInt(int64(s.InferenceCount)-8*int64(s.RequestCount)) > 8*slots || s.ComputeInferUS <= 0 {
				t.Errorf("server breakdown %+v does not match %d requests", m.Server, m.Requests)
			}
		})
	}
}

// A fixed request count measures exactly the requests asked for, plus
// those of the warm-up still in flight when it ended (at most one per
// slot): the budget's one atomic store decides which requests are the
// warm-up's, so this holds however the goroutines are scheduled.
func TestFixedRequestCount(t *testing.T) {
	srv := startServer(t)
	for _, rpc := range []string{workload.RPCUnary, workload.RPCStream} {
		o := quick(srv.Addr(), "mlp")
		o.Requests, o.Clients, o.RPC = 300, 2, rpc
		m, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if m.Requests < 300 || m.Requests > 302 {
			t.Errorf("%s: measured %d requests, want 300 (+ at most 2 from the warm-up)", rpc, m.Requests)
		}
	}
}

// Each client is a sequence of the snapshotter: fixed data offline (the
// clients share DataSeconds×r requests exactly and end their sequences),
// frame bursts online (data rate = streams kept up with).
func TestSequences(t *testing.T) {
	srv := startServer(t)
	t.Run("offline", func(t *testing.T) {
		o := quick(srv.Addr(), "snapshotter")
		o.Sequence, o.RPC, o.Clients, o.Concurrency = true, workload.RPCStream, 2, 2
		o.InferenceRate, o.DataSeconds, o.Warmup = 16, 10, 0
		o.SequenceIDBase = 7000
		m, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if m.Requests != 160 || m.Errors != 0 {
			t.Errorf("requests %d errors %d, want 160 (10 s × r 16) and 0", m.Requests, m.Errors)
		}
		if m.DataRate <= 0 || !within(m.DataRate, m.ThroughputRPS/16, 1e-9) || !m.Sequence {
			t.Errorf("data rate %g with throughput %g req/s at r = 16", m.DataRate, m.ThroughputRPS)
		}
		if m.Server == nil || m.Server.RequestCount != 160 {
			t.Errorf("server breakdown %+v, want 160 requests", m.Server)
		}
		// Both sequences were ended: the server no longer knows them.
		c, err := client.Dial(srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for id := int64(7001); id <= 7002; id++ {
			req := client.NewRequest("snapshotter", client.Tensor{Name: "update", Shape: []int64{21, 256}, Data: make([]float32, 21*256)})
			client.SetSequence(req, id, false, false)
			_, err := c.Infer(context.Background(), req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "not active") {
				t.Errorf("sequence %d after the run: err %v, want 'not active'", id, err)
			}
		}
	})
	t.Run("online-frames", func(t *testing.T) {
		o := quick(srv.Addr(), "stream-e2e")
		o.Sequence, o.RPC, o.Mode, o.Arrival = true, workload.RPCStream, workload.ModeOpen, workload.ArrivalFrames
		o.Clients, o.InferenceRate, o.Warmup, o.Duration, o.Window = 2, 4, 0, 990*time.Millisecond, time.Second
		m, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		// The frame at t=0 releases r requests per stream; the next one
		// comes at 1 s, after the window.
		if m.Requests != 8 {
			t.Errorf("requests %d, want 2 streams × r 4 in one frame", m.Requests)
		}
		if !within(m.DataRate, 8/m.DurationS/4, 1e-9) || m.DataRate < 1.9 {
			t.Errorf("data rate %g: 2 streams should be kept up with", m.DataRate)
		}
	})
	t.Run("unary-closed", func(t *testing.T) {
		o := quick(srv.Addr(), "snapshotter")
		o.Sequence, o.InferenceRate, o.Clients = true, 8, 2
		m, err := Run(context.Background(), o)
		if err != nil || m.Requests == 0 || m.Errors != 0 {
			t.Fatalf("err %v, measurement %+v", err, m)
		}
		o.Concurrency = 2
		if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "concurrency 1") {
			t.Errorf("sequence over unary with 2 in flight: err %v, want a refusal", err)
		}
	})
}

// Frame arrivals release r requests at once each second: with one
// instance of a 15 ms model the tenth waits for the nine before it (a
// bound a busy machine can only exceed). That constant arrivals at the
// same rate barely queue is TestTimingFrameBursts.
func TestFrameBursts(t *testing.T) {
	f := measureArrivals(t, workload.ArrivalFrames)
	if f.Requests != 10 {
		t.Errorf("frames: %d requests in the first second, want r = 10", f.Requests)
	}
	// The last of the burst waits for the nine before it.
	if spread := f.Latency.MaxUS - f.Latency.MinUS; spread < 9*15e3*0.9 {
		t.Errorf("frames: latency %.0f..%.0f µs, want the last of the burst ~9 service times (135 ms) after the first", f.Latency.MinUS, f.Latency.MaxUS)
	}
}

// measureArrivals measures 10 requests/s of a 15 ms calibrated model,
// one instance, for 990 ms from the first arrival.
func measureArrivals(t *testing.T, arrival string) *results.Measurement {
	t.Helper()
	srv := startServer(t)
	loadCalibrated(t, srv.Addr(), map[string]string{"base_us": "15000"}, 1)
	o := quick(srv.Addr(), "calibrated")
	o.Mode, o.Arrival, o.Rate = workload.ModeOpen, arrival, 10
	o.Warmup, o.Duration, o.Window = 0, 990*time.Millisecond, time.Second
	m, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d requests, min %.0f µs p50 %.0f µs max %.0f µs", arrival, m.Requests, m.Latency.MinUS, m.Latency.P50US, m.Latency.MaxUS)
	return m
}

func TestErrors(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	t.Run("wrong model", func(t *testing.T) {
		m, err := Run(ctx, quick(srv.Addr(), "no-such-model"))
		if err == nil || m != nil || !strings.Contains(err.Error(), `"no-such-model" is not ready`) || !strings.Contains(err.Error(), "mlp") {
			t.Errorf("err %v, want model not ready naming the ready models", err)
		}
	})
	t.Run("wrong shape", func(t *testing.T) {
		o := quick(srv.Addr(), "mlp")
		o.Shapes = map[string][]int64{"x": {32}}
		_, err := Run(ctx, o)
		if err == nil || !strings.Contains(err.Error(), "x") || !strings.Contains(err.Error(), "[32]") {
			t.Errorf("err %v, want the shape named", err)
		}
	})
	t.Run("batch too large", func(t *testing.T) {
		o := quick(srv.Addr(), "snapshotter")
		o.BatchSize = 4
		if _, err := Run(ctx, o); err == nil || !strings.Contains(err.Error(), "does not batch") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		lis, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := lis.Addr().String()
		lis.Close()
		_, err := Run(ctx, quick(addr, "mlp"))
		if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), addr) {
			t.Errorf("err %v, want unreachable naming %s", err, addr)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		o := quick(srv.Addr(), "mlp")
		o.Mode = workload.ModeOpen
		if _, err := Run(ctx, o); err == nil || !strings.Contains(err.Error(), "rate") {
			t.Errorf("open loop without a rate: err %v", err)
		}
	})
}

// A server that dies mid-window ends the measurement with an error, and
// what was measured before comes back marked incomplete. The server dies
// 300 ms after the warm-up began, counted from its first answered
// request, so that it lived past the warm-up however slowly the
// measurement started. Whether a window's statistics were read before
// the death (a read a busy machine delays) and how soon the death is
// noticed is TestTimingServerDeathIsNoticed.
func TestServerDiesMidWindow(t *testing.T) {
	for _, rpc := range []string{workload.RPCUnary, workload.RPCStream} {
		t.Run(rpc, func(t *testing.T) {
			srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			o := quick(srv.Addr(), "mlp")
			o.RPC, o.Clients, o.Duration = rpc, 2, 3*time.Second
			go func() {
				waitForAnswers(srv.Addr(), "mlp", 0)
				time.Sleep(o.Warmup + 300*time.Millisecond)
				srv.Stop()
			}()
			began := time.Now()
			m, err := Run(context.Background(), o)
			if err == nil || m == nil {
				t.Fatalf("err %v measurement %v: want both", err, m)
			}
			if !m.Incomplete || m.Error == "" || m.Requests == 0 {
				t.Errorf("incomplete %v error %q requests %d duration %.2f s", m.Incomplete, m.Error, m.Requests, m.DurationS)
			}
			t.Logf("%v; %d requests in %d windows kept after %v", err, m.Requests, len(m.Windows), time.Since(began))
		})
	}
}

// answered is how many requests model has answered on a server (0 when
// the statistics cannot be read).
func answered(addr, model string) uint64 {
	c, err := client.Dial(addr)
	if err != nil {
		return 0
	}
	defer c.Close()
	st, err := c.Statistics(context.Background(), model, "")
	if err != nil || len(st) == 0 {
		return 0
	}
	return st[0].GetInferenceStats().GetSuccess().GetCount()
}

// waitForAnswers polls a server's statistics until model has answered
// more than `after` requests (or 30 s pass: the test then goes on and
// fails on its own terms).
func waitForAnswers(addr, model string, after uint64) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if answered(addr, model) > after {
			return
		}
	}
}

func TestCancelledContext(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	o := quick(srv.Addr(), "mlp")
	o.Duration = 5 * time.Second
	// Cancelled 300 ms after the warm-up began (from the first answered
	// request), so that something was measured however slowly it started.
	go func() {
		waitForAnswers(srv.Addr(), "mlp", 0)
		time.Sleep(o.Warmup + 300*time.Millisecond)
		cancel()
	}()
	m, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) || m == nil || !m.Incomplete || m.Requests == 0 {
		t.Errorf("err %v measurement %v", err, m)
	}
}

func TestTwoServersAndTelemetry(t *testing.T) {
	a, b := startServer(t), startServer(t)
	o := quick(a.Addr(), "mlp")
	o.Addrs = append(o.Addrs, b.Addr())
	o.Clients = 2
	o.NoTelemetry = false
	o.MetricsURLs = []string{a.MetricsURL()}
	var bar bytes.Buffer
	o.Progress = &bar
	m, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Both servers' statistics are read: how closely their count matches
	// the client's depends on how promptly the reads follow the window's
	// edges, which a busy machine delays.
	if m.Server == nil || m.Server.RequestCount == 0 || m.Requests == 0 {
		t.Errorf("server counts %+v for %d requests over both servers", m.Server, m.Requests)
	}
	tel := m.Telemetry
	if tel == nil || len(tel.Series) == 0 || tel.CPUUtilMean <= 0 {
		t.Fatalf("telemetry %+v: want host CPU series", tel)
	}
	if bar.Len() == 0 || !strings.Contains(bar.String(), "mlp") {
		t.Errorf("progress bar wrote %q", bar.String())
	}
}

func TestIsStable(t *testing.T) {
	w := func(tput, p99 float64) window {
		return window{Window: results.Window{ThroughputIPS: tput, P99US: p99}, latencyUS: p99}
	}
	if !isStable([]window{w(100, 10), w(105, 10.5), w(95, 9.6)}, 0.1) {
		t.Error("windows within 10% should be stable")
	}
	if isStable([]window{w(100, 10), w(100, 14), w(100, 10)}, 0.1) {
		t.Error("a p99 off by 30% is not stable")
	}
	if isStable([]window{w(100, 10), w(130, 10), w(100, 10)}, 0.1) {
		t.Error("a throughput off by 20% is not stable")
	}
	if isStable([]window{w(0, 0), w(0, 0)}, 0.1) {
		t.Error("no throughput is not stable")
	}
}

func TestSchedule(t *testing.T) {
	o := Options{Arrival: workload.ArrivalFrames, Rate: 2.5, Clients: 1}
	s := newSchedule(&o, 0)
	counts := map[int64]int{}
	for i := 0; i < 10; i++ {
		counts[s.next()/int64(time.Second)]++
	}
	if counts[0] != 2 || counts[1] != 3 || counts[2] != 2 || counts[3] != 3 {
		t.Errorf("frames at r=2.5: %v, want 2, 3, 2, 3 requests at 0, 1, 2, 3 s", counts)
	}
	o = Options{Arrival: workload.ArrivalConstant, Rate: 100, Clients: 4}
	s = newSchedule(&o, 1)
	if a, b := s.next(), s.next(); a != int64(2500*time.Microsecond) || b-a != int64(10*time.Millisecond) {
		t.Errorf("constant 100/s, client 1 of 4: %d then %d ns", a, b)
	}
	o = Options{Arrival: workload.ArrivalPoisson, Rate: 1000, Clients: 1, Seed: 3}
	s = newSchedule(&o, 0)
	var last int64
	for i := 0; i < 20000; i++ {
		last = s.next()
	}
	if mean := float64(last) / 20000; !within(mean, 1e6, 0.03) {
		t.Errorf("poisson 1000/s: mean gap %.0f ns, want 1e6", mean)
	}
}

func TestCSV(t *testing.T) {
	m := &results.Measurement{Mode: workload.ModeClosed, ThroughputIPS: 1234.56,
		Latency: results.LatencySummary{MeanUS: 1000, P50US: 900, P90US: 1500, P95US: 1700, P99US: 2500.4},
		Server:  &results.Breakdown{QueueUS: 100, ComputeInputUS: 10, ComputeInferUS: 700, ComputeOutputUS: 5}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, workload.ModeClosed, []*results.Measurement{m}, []float64{4}); err != nil {
		t.Fatal(err)
	}
	want := "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency\n" +
		"4,1234.56,0,185,100,10,700,5,0,900,1500,1700,2500\n"
	if buf.String() != want {
		t.Errorf("csv:\n%s\nwant:\n%s", buf.String(), want)
	}
	path := t.TempDir() + "/perf.csv"
	for i := 0; i < 2; i++ {
		if err := AppendCSVFile(path, m, float64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	open := *m
	open.Mode = workload.ModeOpen
	if err := AppendCSVFile(path, &open, 1); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("appending an open-loop row to a closed-loop file: err %v", err)
	}
	_ = io.Discard
	_ = pb.ModelInferRequest{}
}

func absInt(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
