package simulate

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/workload"
)

// flat is a service time independent of the batch's rows.
func flat(d time.Duration) func(int) time.Duration { return func(int) time.Duration { return d } }

// base is one server, one GPU, one instance, one closed-loop client, no
// overhead: the textbook single server.
func base(d time.Duration) Config {
	return Config{
		Servers: 1, GPUs: 1, Instances: 1, Clients: 1,
		Mode: workload.ModeClosed, Concurrency: 1, BatchSize: 1,
		ServiceTime: flat(d), Warmup: time.Second, Duration: 10 * time.Second, Seed: 1,
	}
}

func run(t testing.TB, c Config) *Result {
	t.Helper()
	r, err := Simulate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func throughput(r *Result) float64 { return float64(r.Requests) / r.DurationS }

func meanLatency(r *Result) float64 { return r.Latency.Mean() / 1e9 }

func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*math.Abs(want) {
		t.Errorf("%s = %.6g, want %.6g within %.1f%% (off by %.2f%%)", what, got, want, 100*tol, 100*(got-want)/want)
	}
}

// Poisson arrivals at a deterministic server: the M/D/1 queue, whose
// mean wait is ρD / (2(1−ρ)) (Pollaczek–Khinchine).
func TestMD1MeanWait(t *testing.T) {
	const d = time.Millisecond
	for _, rho := range []float64{0.5, 0.8} {
		c := base(d)
		c.Mode, c.Arrival, c.Rate = workload.ModeOpen, workload.ArrivalPoisson, rho/d.Seconds()
		c.Duration = 400 * time.Second
		r := run(t, c)
		wq := meanLatency(r) - d.Seconds()
		want := rho * d.Seconds() / (2 * (1 - rho))
		t.Logf("M/D/1 rho=%.1f: Wq %.4g ms, theory %.4g ms (%+.2f%%), %d requests", rho, wq*1e3, want*1e3, 100*(wq-want)/want, r.Requests)
		within(t, "M/D/1 mean wait", wq, want, 0.05)
		// The server's own queue figure is the same wait seen from inside.
		within(t, "server queue time", r.QueueS/float64(r.Requests), want, 0.05)
		within(t, "throughput", throughput(r), c.Rate, 0.02)
	}
}

// Exponential service turns the device into an M/M/1 queue: mean wait
// ρ/(μ−λ) = ρD/(1−ρ).
func TestMM1MeanWait(t *testing.T) {
	const d = time.Millisecond
	const rho = 0.7
	c := base(d)
	c.Mode, c.Arrival, c.Rate = workload.ModeOpen, workload.ArrivalPoisson, rho/d.Seconds()
	c.ExponentialService = true
	c.Duration = 400 * time.Second
	r := run(t, c)
	wq := r.QueueS / float64(r.Requests)
	want := rho * d.Seconds() / (1 - rho)
	t.Logf("M/M/1 rho=%.1f: Wq %.4g ms, theory %.4g ms (%+.2f%%)", rho, wq*1e3, want*1e3, 100*(wq-want)/want)
	within(t, "M/M/1 mean wait", wq, want, 0.05)
	within(t, "M/M/1 mean response", meanLatency(r), d.Seconds()/(1-rho), 0.05)
}

// A closed loop of N clients on one server of service D completes
// exactly min(N,1)/D requests per second; with overhead o a single client
// completes 1/(D+o).
func TestClosedLoopThroughput(t *testing.T) {
	const d = 200 * time.Microsecond
	for _, n := range []int{1, 2, 8} {
		c := base(d)
		c.Clients = n
		r := run(t, c)
		// The count of completions in a window is exact to ±1 request.
		if got, want := float64(r.Requests), c.Duration.Seconds()/d.Seconds(); math.Abs(got-want) > 1 {
			t.Errorf("%d clients: %g requests in %v, want %g", n, got, c.Duration, want)
		}
		if n > 1 {
			// Each client waits for the n−1 others: latency nD.
			within(t, "closed-loop latency", meanLatency(r), float64(n)*d.Seconds(), 1e-3)
		}
	}
	c := base(d)
	c.Overhead = 50 * time.Microsecond
	within(t, "one client with overhead", throughput(run(t, c)), 1/(d+c.Overhead).Seconds(), 1e-3)
	c.Clients = 16 // enough clients hide the overhead: the device is the limit
	within(t, "sixteen clients with overhead", throughput(run(t, c)), 1/d.Seconds(), 1e-3)
}

// Instances share their device: two on one GPU do not double capacity;
// two GPUs do, and so do two CPU instances (each its own executor).
func TestInstancesShareDevicesAdd(t *testing.T) {
	const d = time.Millisecond
	cases := []struct {
		name            string
		gpus, instances int
		want            float64
	}{
		{"1 GPU x 1 instance", 1, 1, 1},
		{"1 GPU x 2 instances", 1, 2, 1},
		{"2 GPUs x 1 instance", 2, 1, 2},
		{"2 GPUs x 2 instances", 2, 2, 2},
		{"CPU x 2 instances", 0, 2, 2},
	}
	for _, tc := range cases {
		c := base(d)
		c.GPUs, c.Instances, c.Clients = tc.gpus, tc.instances, 8
		r := run(t, c)
		within(t, tc.name+" throughput", throughput(r), tc.want/d.Seconds(), 1e-3)
		if tc.gpus > 0 {
			if len(r.GPUUtil) != tc.gpus {
				t.Fatalf("%s: %d GPU utilisations, want %d", tc.name, len(r.GPUUtil), tc.gpus)
			}
			for i, u := range r.GPUUtil {
				within(t, tc.name+" GPU utilisation", u, 1, 1e-3)
				_ = i
			}
		} else if len(r.GPUUtil) != 0 {
			t.Errorf("%s: CPU executors reported as GPUs: %v", tc.name, r.GPUUtil)
		}
	}
	// Two instances on one device: the wait moves from the queue to the
	// device (compute), the total stays.
	c := base(d)
	c.Instances, c.Clients = 2, 2
	r := run(t, c)
	n := float64(r.Requests)
	within(t, "compute incl. device wait", r.InferS/n, 2*d.Seconds(), 1e-3)
	if q := r.QueueS / n; q > 1e-9 {
		t.Errorf("two clients, two instances: queue %g s, want 0 (each has an instance)", q)
	}
}

func TestDynamicBatchingMergesRequests(t *testing.T) {
	const d = time.Millisecond
	c := base(d) // flat: a batch costs what one request does
	c.Clients = 16
	plain := run(t, c)
	c.DynamicBatching, c.MaxBatchSize = true, 64
	batched := run(t, c)
	// Without a delay the batcher takes whatever waits when the instance
	// frees: the 16 clients settle into batches of 1 and 15 in turn.
	if got := throughput(batched) / throughput(plain); got < 7.9 {
		t.Errorf("dynamic batching raised throughput %.1f×, want 8× (batches of 1 and 15 alternating)", got)
	}
	// A queue delay lets the batch fill to the preferred size.
	c.PreferredBatchSizes, c.MaxQueueDelay = []int{16}, 100*time.Microsecond
	filled := run(t, c)
	if avg := float64(filled.ExecRows) / float64(filled.Executions); avg < 15.9 {
		t.Errorf("with preferred 16 and a delay: mean batch %.2f rows, want 16", avg)
	}
	// All 16 return together and fill the batch at once: no wait.
	within(t, "throughput of full batches", throughput(filled), 16/d.Seconds(), 0.01)
	c.PreferredBatchSizes, c.MaxQueueDelay = nil, 0
	// max_batch_size caps a batch: 16 clients, batches of at most 4.
	c.MaxBatchSize = 4
	capped := run(t, c)
	within(t, "throughput capped by max_batch_size 4", throughput(capped), 4/d.Seconds(), 0.01)
}

// A lone request short of the preferred batch waits max_queue_delay for
// company, and no longer.
func TestMaxQueueDelayBoundsWait(t *testing.T) {
	const d = time.Millisecond
	const delay = 2 * time.Millisecond
	c := base(d)
	c.Mode, c.Arrival, c.Rate = workload.ModeOpen, workload.ArrivalConstant, 50 // one request per 20 ms: never company
	c.DynamicBatching, c.MaxBatchSize, c.PreferredBatchSizes = true, 64, []int{8}
	c.MaxQueueDelay = delay
	r := run(t, c)
	within(t, "latency with max_queue_delay", meanLatency(r), (d + delay).Seconds(), 1e-3)
	within(t, "max latency with max_queue_delay", float64(r.Latency.Max())/1e9, (d + delay).Seconds(), 0.01)
	// A request already at a preferred size does not wait.
	c.PreferredBatchSizes = []int{1, 8}
	within(t, "latency at a preferred size", meanLatency(run(t, c)), d.Seconds(), 1e-3)
	// Eight requests at once fill the preferred size: no wait either.
	c.PreferredBatchSizes = []int{8}
	c.Arrival, c.Rate = workload.ArrivalFrames, 8
	r = run(t, c)
	within(t, "latency of a full preferred batch", float64(r.Latency.Max())/1e9, d.Seconds(), 0.01)
	if r.Executions != r.Requests/8 {
		t.Errorf("%d executions for %d requests in frames of 8, want one batch per frame", r.Executions, r.Requests)
	}
}

// A sequence is pinned to one instance: its requests run in order there
// even when other devices are idle.
func TestSequencesPinToOneInstance(t *testing.T) {
	const d = 10 * time.Millisecond
	c := base(d)
	c.GPUs = 2
	c.Mode, c.Arrival, c.Rate = workload.ModeOpen, workload.ArrivalFrames, 8
	c.Sequence = true
	r := run(t, c)
	if r.GPUUtil[1] != 0 {
		t.Errorf("one sequence used GPU 1 (utilisation %g): not pinned", r.GPUUtil[1])
	}
	within(t, "pinned GPU utilisation", r.GPUUtil[0], 8*d.Seconds(), 1e-3)
	// Eight requests of a frame queue behind each other: the last waits 8D.
	within(t, "max latency of a frame", float64(r.Latency.Max())/1e9, 8*d.Seconds(), 0.01)

	c.Clients = 2 // the second sequence takes the next slot: GPU 1
	r = run(t, c)
	within(t, "GPU 1 with a second sequence", r.GPUUtil[1], 8*d.Seconds(), 1e-3)

	c.Clients, c.Sequence = 1, false // unpinned, the frame spreads over both GPUs
	r = run(t, c)
	within(t, "max latency of a frame over two GPUs", float64(r.Latency.Max())/1e9, 4*d.Seconds(), 0.01)
}

func TestFramesArriveOncePerSecond(t *testing.T) {
	c := base(time.Millisecond)
	c.Mode, c.Arrival, c.Rate, c.Clients = workload.ModeOpen, workload.ArrivalFrames, 4, 3
	c.Warmup, c.Duration, c.Window = time.Second, 4*time.Second, time.Second
	r := run(t, c)
	if r.Requests != 4*3*4 {
		t.Errorf("%d requests, want 3 clients × 4 per frame × 4 frames = 48", r.Requests)
	}
	if len(r.Windows) != 4 {
		t.Fatalf("%d windows, want 4", len(r.Windows))
	}
	// A fractional rate sends a request every other frame.
	c.Rate = 0.5
	if r := run(t, c); r.Requests != 3*2 {
		t.Errorf("rate 0.5: %d requests in 4 frames of 3 clients, want 6", r.Requests)
	}
}

func TestConstantArrivalRate(t *testing.T) {
	c := base(100 * time.Microsecond)
	c.Mode, c.Arrival, c.Rate, c.Clients, c.GPUs = workload.ModeOpen, workload.ArrivalConstant, 8, 100, 1
	r := run(t, c)
	within(t, "offered load carried", throughput(r), 800, 0.002)
	// Evenly staggered clients never meet: no queueing at 8% load.
	if q := r.QueueS; q > 1e-9 {
		t.Errorf("staggered constant arrivals queued %g s in total", q)
	}
}

func TestDataBudgetProcessesAllData(t *testing.T) {
	const d = time.Millisecond
	c := base(d)
	c.Servers, c.Clients, c.Sequence = 2, 2, true
	c.Rate, c.DataSeconds = 8, 64 // 512 requests over 4 clients
	r := run(t, c)
	if r.Requests != 512 {
		t.Fatalf("%d requests, want 64 s × 8 /s = 512", r.Requests)
	}
	// Two servers, each with two sequences pinned to its one instance:
	// 256 requests per server in series.
	within(t, "time to process the data", r.DurationS, 256*d.Seconds(), 1e-3)
	// A budget that does not divide evenly is still processed whole.
	c = base(d)
	c.Clients, c.Sequence, c.Rate, c.DataSeconds = 3, true, 8, 1
	if r := run(t, c); r.Requests != 8 {
		t.Errorf("1 s at r=8 over 3 clients: %d requests, want 8", r.Requests)
	}
}

func TestFullQueueRejects(t *testing.T) {
	c := base(time.Millisecond)
	c.Mode, c.Arrival, c.Rate = workload.ModeOpen, workload.ArrivalConstant, 2000 // twice capacity
	c.MaxQueueSize = 10
	r := run(t, c)
	if r.Errors == 0 {
		t.Fatal("overload with max queue 10 rejected nothing")
	}
	within(t, "carried load at overload", throughput(r), 1000, 0.01)
	if mx := float64(r.Latency.Max()) / 1e9; mx > 0.0125 {
		t.Errorf("max latency %g s with a queue of 10 at 1 ms: the queue is not bounded", mx)
	}
	// Closed-loop clients beyond the queue back off and retry.
	c = base(time.Millisecond)
	c.Clients, c.MaxQueueSize = 20, 5
	r = run(t, c)
	if r.Errors == 0 || throughput(r) < 990 {
		t.Errorf("closed loop over a full queue: %d errors, %.0f/s; want rejections and the device kept busy", r.Errors, throughput(r))
	}
}

func TestDeterministic(t *testing.T) {
	c := base(time.Millisecond)
	c.Mode, c.Arrival, c.Rate, c.Clients = workload.ModeOpen, workload.ArrivalPoisson, 100, 5
	a, b := run(t, c), run(t, c)
	if a.Requests != b.Requests || a.Latency.Sum() != b.Latency.Sum() {
		t.Errorf("same config, different results: %d/%d requests", a.Requests, b.Requests)
	}
	c.Seed = 2
	if d := run(t, c); d.Latency.Sum() == a.Latency.Sum() {
		t.Error("another seed gave the very same Poisson run")
	}
}

func TestRequestCountEndsWindow(t *testing.T) {
	c := base(time.Millisecond)
	c.Duration, c.Requests = 0, 500
	r := run(t, c)
	if r.Requests != 500 {
		t.Fatalf("%d requests, want 500", r.Requests)
	}
	within(t, "window of 500 requests", r.DurationS, 0.5, 0.01)
}

func TestConfigErrorsNameTheField(t *testing.T) {
	c := base(time.Millisecond)
	c.Instances = 0
	if _, err := Simulate(context.Background(), c); err == nil || !contains(err.Error(), "instances") {
		t.Errorf("instances 0: error %v, want one naming instances", err)
	}
	c = base(time.Millisecond)
	c.Mode, c.Arrival, c.Rate = workload.ModeOpen, "bursty", 1
	if _, err := Simulate(context.Background(), c); err == nil || !contains(err.Error(), "bursty") {
		t.Errorf("arrival bursty: error %v", err)
	}
	c = base(time.Millisecond)
	c.ServiceTime = nil
	if _, err := Simulate(context.Background(), c); err == nil {
		t.Error("no service time accepted")
	}
}

func TestCancelStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := base(time.Microsecond)
	c.Clients, c.Duration = 100, time.Hour-time.Second
	if _, err := Simulate(ctx, c); err == nil {
		t.Fatal("a cancelled simulation returned no error")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// An empirical overhead: each request draws one of the values, so a lone
// client runs at 1/(D + mean) and the tail shows the largest value.
func TestEmpiricalOverhead(t *testing.T) {
	const d = 100 * time.Microsecond
	c := base(d)
	c.OverheadQuantiles = []time.Duration{0, 100 * time.Microsecond}
	r := run(t, c)
	within(t, "throughput with empirical overhead", throughput(r), 1/(d+50*time.Microsecond).Seconds(), 0.01)
	within(t, "p99 with empirical overhead", float64(r.Latency.Quantile(0.99))/1e9, (d + 100*time.Microsecond).Seconds(), 0.01)
	within(t, "min with empirical overhead", float64(r.Latency.Min())/1e9, d.Seconds(), 0.01)
}
