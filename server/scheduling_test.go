package server_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/hist"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/server"
)

// calibrated reconfigures the calibrated model and returns its config.
func calibrated(t *testing.T, c *client.Client, instances int, baseUS, perItemUS string, mutate func(*pb.ModelConfig)) *pb.ModelConfig {
	t.Helper()
	ctx := ctxT(t)
	cfg, err := c.ModelConfig(ctx, "calibrated", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg = proto.Clone(cfg).(*pb.ModelConfig)
	cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: int32(instances), Kind: pb.ModelInstanceGroup_KIND_CPU}}
	cfg.Parameters["base_us"] = &pb.ModelParameter{StringValue: baseUS}
	cfg.Parameters["per_item_us"] = &pb.ModelParameter{StringValue: perItemUS}
	if mutate != nil {
		mutate(cfg)
	}
	if err := c.Load(ctx, "calibrated", cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// drive keeps `clients` closed-loop clients busy for d and returns the
// number of completed requests and failures.
func drive(t *testing.T, c *client.Client, clients int, d time.Duration, batch int) (ok, failed int64, lat []time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := client.NewRequest("calibrated", client.Tensor{Name: "input", Shape: []int64{int64(batch), 16}, Data: ramp(batch*16, 1)})
			var resp pb.ModelInferResponse
			for ctx.Err() == nil {
				t0 := time.Now()
				err := c.InferInto(context.Background(), req, &resp)
				el := time.Since(t0)
				mu.Lock()
				if err != nil {
					failed++
				} else {
					ok++
					lat = append(lat, el)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ok, failed, lat
}

// With a queue delay, eight clients' requests are merged into larger
// batches: fewer executions than inferences, and batch_stats above 1.
// That this raises throughput is TestTimingDynamicBatchingRaisesThroughput
// (make test-timing).
func TestDynamicBatchingMerges(t *testing.T) {
	_, c := start(t, server.Options{})
	before, after, _, _ := driveDynamicBatching(t, c)
	inf := after[0].InferenceCount - before[0].InferenceCount
	exec := after[0].ExecutionCount - before[0].ExecutionCount
	if exec >= inf {
		t.Fatalf("dynamic batching: %d executions for %d inferences, want fewer executions", exec, inf)
	}
	merged := false
	for _, b := range after[0].BatchStats {
		if b.BatchSize > 1 && b.ComputeInfer.Count > 0 {
			merged = true
		}
	}
	if !merged {
		t.Fatalf("no batch_stats entry above batch size 1: %v", after[0].BatchStats)
	}
}

// driveDynamicBatching drives a 4 ms calibrated model with 8 clients for
// 400 ms without, then with, dynamic batching (1 ms queue delay), and
// returns the statistics around the batched run and both request counts.
func driveDynamicBatching(t *testing.T, c *client.Client) (before, after []*pb.ModelStatistics, plain, batched int64) {
	t.Helper()
	ctx := ctxT(t)
	calibrated(t, c, 1, "4000", "10", nil)
	plain, _, _ = drive(t, c, 8, 400*time.Millisecond, 1)
	before, _ = c.Statistics(ctx, "calibrated", "")
	calibrated(t, c, 1, "4000", "10", func(cfg *pb.ModelConfig) {
		cfg.SchedulingChoice = &pb.ModelConfig_DynamicBatching{DynamicBatching: &pb.ModelDynamicBatching{MaxQueueDelayMicroseconds: 1000}}
	})
	batched, _, _ = drive(t, c, 8, 400*time.Millisecond, 1)
	after, _ = c.Statistics(ctx, "calibrated", "")
	if len(before) == 0 || len(after) == 0 {
		t.Fatal("no statistics for calibrated")
	}
	return before, after, plain, batched
}

// A lone request can never reach the preferred batch size: it waits the
// full max_queue_delay (20 ms) before its 1 ms call, never less. That it
// waits no longer is TestTimingMaxQueueDelayBoundsAddedLatency.
func TestMaxQueueDelayIsWaited(t *testing.T) {
	_, c := start(t, server.Options{})
	if mean := meanLoneLatency(t, c); mean < 20*time.Millisecond {
		t.Fatalf("mean latency %v with a 20 ms max_queue_delay, want at least that", mean)
	}
}

// meanLoneLatency is the mean latency of one closed-loop client of a 1 ms
// model whose dynamic batcher waits up to 20 ms for a batch of 64.
func meanLoneLatency(t *testing.T, c *client.Client) time.Duration {
	t.Helper()
	calibrated(t, c, 1, "1000", "0", func(cfg *pb.ModelConfig) {
		cfg.SchedulingChoice = &pb.ModelConfig_DynamicBatching{DynamicBatching: &pb.ModelDynamicBatching{
			PreferredBatchSize: []int32{64}, MaxQueueDelayMicroseconds: 20000}}
	})
	_, _, lat := drive(t, c, 1, 300*time.Millisecond, 1)
	if len(lat) == 0 {
		t.Fatal("no requests completed")
	}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	return sum / time.Duration(len(lat))
}

func TestSequencesKeepStatePerCorrelationID(t *testing.T) {
	_, c := start(t, server.Options{})
	ctx := ctxT(t)
	st, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const ch, kernel, upd = 21, 4096, 512
	update := func(seq, step int) []float32 {
		v := make([]float32, ch*upd)
		for i := range v {
			v[i] = float32(seq*1000 + step)
		}
		return v
	}
	seqs := []*client.Sequence{st.NewSequence(11), st.NewSequence(22)}
	for step := 0; step < 3; step++ {
		for s, q := range seqs {
			req := client.NewRequest("snapshotter", client.Tensor{Name: "update", Shape: []int64{ch, upd}, Data: update(s+1, step)})
			resp, err := q.Step(req, false)
			if err != nil {
				t.Fatal(err)
			}
			snap, _ := client.Output(resp, "snapshot")
			// The newest upd samples of each channel are this step's; the
			// ones before are the previous step's (or zero): sequences do
			// not see each other's updates.
			for c := 0; c < ch; c++ {
				row := snap.Data[c*kernel : (c+1)*kernel]
				if row[kernel-1] != float32((s+1)*1000+step) {
					t.Fatalf("seq %d step %d channel %d newest = %v", s, step, c, row[kernel-1])
				}
				prev := float32(0)
				if step > 0 {
					prev = float32((s+1)*1000 + step - 1)
				}
				if row[kernel-upd-1] != prev {
					t.Fatalf("seq %d step %d channel %d previous = %v, want %v", s, step, c, row[kernel-upd-1], prev)
				}
			}
		}
	}
	// End sequence 11; its next request without START is refused clearly.
	req := client.NewRequest("snapshotter", client.Tensor{Name: "update", Shape: []int64{ch, upd}, Data: update(1, 9)})
	client.SetSequence(req, 11, false, true)
	if _, err := c.Infer(ctx, req); err != nil {
		t.Fatal(err)
	}
	client.SetSequence(req, 11, false, false)
	_, err = c.Infer(ctx, req)
	if status.Code(err) != codes.InvalidArgument || !contains(err.Error(), "sequence 11 is not active") {
		t.Fatalf("request on an ended sequence: %v", err)
	}
	// A stream reports a per-request error and stays usable.
	client.SetSequence(req, 99, false, false)
	if err := st.Send(req); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err == nil || !contains(err.Error(), "sequence 99") {
		t.Fatalf("stream error for unknown sequence: %v", err)
	}
	// The stream-e2e ensemble carries the sequence through the snapshotter.
	req2 := client.NewRequest("stream-e2e", client.Tensor{Name: "update", Shape: []int64{ch, upd}, Data: update(3, 0)})
	client.SetSequence(req2, 33, true, false)
	resp, err := c.Infer(ctx, req2)
	if err != nil {
		t.Fatal(err)
	}
	noise, _ := client.Output(resp, "noise")
	if len(noise.Data) != kernel || noise.Data[0] == noise.Data[kernel-1] {
		t.Fatalf("stream-e2e output: %d values, first %v last %v", len(noise.Data), noise.Data[0], noise.Data[kernel-1])
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestIdleSequencesTimeOut(t *testing.T) {
	_, c := start(t, server.Options{})
	ctx := ctxT(t)
	cfg, _ := c.ModelConfig(ctx, "snapshotter", "")
	cfg = proto.Clone(cfg).(*pb.ModelConfig)
	cfg.GetSequenceBatching().MaxSequenceIdleMicroseconds = 100000
	if err := c.Load(ctx, "snapshotter", cfg); err != nil {
		t.Fatal(err)
	}
	req := client.NewRequest("snapshotter", client.Tensor{Name: "update", Shape: []int64{21, 8}, Data: ramp(21*8, 1)})
	client.SetSequence(req, 5, true, false)
	if _, err := c.Infer(ctx, req); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	client.SetSequence(req, 5, false, false)
	if _, err := c.Infer(ctx, req); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("request after idle timeout: %v", err)
	}
}

func TestReconfigurationUnderLoadFailsNoRequest(t *testing.T) {
	_, c := start(t, server.Options{})
	calibrated(t, c, 1, "500", "0", nil)
	var ok, failed atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := client.NewRequest("calibrated", client.Tensor{Name: "input", Shape: []int64{1, 16}, Data: ramp(16, 1)})
			var resp pb.ModelInferResponse
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := c.InferInto(context.Background(), req, &resp); err != nil {
					failed.Add(1)
					t.Log(err)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 6; i++ {
		time.Sleep(40 * time.Millisecond)
		n := 1 + i%3
		calibrated(t, c, n, "500", "0", func(cfg *pb.ModelConfig) {
			if i%2 == 1 {
				cfg.SchedulingChoice = &pb.ModelConfig_DynamicBatching{DynamicBatching: &pb.ModelDynamicBatching{MaxQueueDelayMicroseconds: 200}}
			}
		})
	}
	close(done)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("reconfiguration under load: %d ok, %d failed", ok.Load(), failed.Load())
	}
}

func TestOverloadIsBoundedAndHealthAnswers(t *testing.T) {
	_, c := start(t, server.Options{MaxQueue: 8})
	calibrated(t, c, 1, "2000", "0", nil)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// 10× more clients than the queue holds.
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	var unavailable, ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 80; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := client.NewRequest("calibrated", client.Tensor{Name: "input", Shape: []int64{1, 16}, Data: ramp(16, 1)})
			for ctx.Err() == nil {
				_, err := c.Infer(ctx, req)
				switch {
				case err == nil:
					ok.Add(1)
				case status.Code(err) == codes.Unavailable:
					unavailable.Add(1)
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	live, err := c.Live(context.Background())
	healthLatency := time.Since(t0)
	wg.Wait()
	// Health answers while the queue overflows. How fast it answers is
	// TestTimingHealthAnswersPromptlyUnderOverload (make test-timing).
	if err != nil || !live {
		t.Fatalf("health under overload: live=%v err=%v in %v", live, err, healthLatency)
	}
	if unavailable.Load() == 0 || ok.Load() == 0 {
		t.Fatalf("overload: %d ok, %d UNAVAILABLE; want both", ok.Load(), unavailable.Load())
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 64<<20 {
		t.Fatalf("heap grew by %d MiB under overload", grow>>20)
	}
}

// The profile says 5 ms a call: one device completes at most 100 calls
// in 500 ms however many instances share it, two devices at most 200. A
// busy machine can only lower these counts, so the ceilings hold on any;
// that two devices double the calls is TestTimingEmulatedGPUsAddCapacity.
func TestEmulatedGPUsShareCapacity(t *testing.T) {
	one, twoOnOne, twoDevices := driveEmulatedGPUs(t)
	// The clients' last calls may end after the window: 4 more at most.
	const capacity = 100
	if one == 0 || twoOnOne > capacity*11/10 {
		t.Fatalf("two instances on one emulated GPU completed %d calls in 500ms (one instance %d); the device's capacity is %d", twoOnOne, one, capacity)
	}
	if twoDevices > 2*capacity*11/10 {
		t.Fatalf("two emulated GPUs completed %d calls; their capacity is %d", twoDevices, 2*capacity)
	}
}

// driveEmulatedGPUs drives a 5 ms model with 4 clients for 500 ms on one
// instance on one emulated GPU, two instances on one, and one instance on
// each of two, and returns the calls completed in each.
func driveEmulatedGPUs(t *testing.T) (one, twoOnOne, twoDevices int64) {
	t.Helper()
	_, c := start(t, server.Options{EmulatedGPUs: 2, Profiles: map[string]*device.Profile{
		"calibrated": {Device: "test", Points: []device.ProfilePoint{{Batch: 1, P50US: 5000}}},
	}})
	onGPU := func(count int32, gpus []int32) {
		calibrated(t, c, 1, "0", "0", func(cfg *pb.ModelConfig) {
			cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: count, Kind: pb.ModelInstanceGroup_KIND_GPU, Gpus: gpus}}
		})
	}
	const window = 500 * time.Millisecond
	onGPU(1, []int32{0})
	one, _, _ = drive(t, c, 4, window, 1)
	onGPU(2, []int32{0}) // two instances, one device
	twoOnOne, _, _ = drive(t, c, 4, window, 1)
	onGPU(1, []int32{0, 1}) // one instance on each of two devices
	twoDevices, _, _ = drive(t, c, 4, window, 1)
	return one, twoOnOne, twoDevices
}

// The busy GPU's utilization and busy time move, the idle one's stay
// zero, and a call holds its device at least the profile's 4 ms. How
// close to full the busy GPU runs, and how little a call overshoots, is
// TestTimingEmulatedGPUUtilization.
func TestEmulatedGPUUtilizationTracksBusyTime(t *testing.T) {
	g := driveOneEmulatedGPU(t)
	if g.util0 <= 0 || g.util0 > 1 || g.util1 != 0 {
		t.Fatalf("utilization under load: GPU 0 %.2f (want in (0, 1]), idle GPU 1 %.2f (want 0)", g.util0, g.util1)
	}
	if g.calls == 0 || g.busy < g.calls*0.004 {
		t.Fatalf("busy %.3fs for %.0f calls of 4 ms", g.busy, g.calls)
	}
}

// gpuUse is what the metrics said of two emulated GPUs, one kept busy.
type gpuUse struct{ util0, util1, busy, calls float64 }

// driveOneEmulatedGPU keeps GPU 0 busy with two clients of a 4 ms model
// for 700 ms, scraping the utilization 500 ms in and the busy time and
// calls at the end; GPU 1 stays idle.
func driveOneEmulatedGPU(t *testing.T) gpuUse {
	t.Helper()
	srv, c := start(t, server.Options{EmulatedGPUs: 2, Profiles: map[string]*device.Profile{
		"calibrated": {Device: "test", Points: []device.ProfilePoint{{Batch: 1, P50US: 4000}}},
	}})
	calibrated(t, c, 1, "0", "0", func(cfg *pb.ModelConfig) {
		cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: 1, Kind: pb.ModelInstanceGroup_KIND_GPU, Gpus: []int32{0}}}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		drive(t, c, 2, 700*time.Millisecond, 1)
	}()
	time.Sleep(500 * time.Millisecond)
	metrics := scrape(t, srv.MetricsURL())
	<-done
	after := scrape(t, srv.MetricsURL())
	return gpuUse{
		util0: metrics[`nv_gpu_utilization{gpu_uuid="GPU-emulated-0",emulated="true"}`],
		util1: metrics[`nv_gpu_utilization{gpu_uuid="GPU-emulated-1",emulated="true"}`],
		busy:  after[`nv_gpu_busy_seconds_total{gpu_uuid="GPU-emulated-0",emulated="true"}`],
		calls: after[`nv_gpu_executions_total{gpu_uuid="GPU-emulated-0",emulated="true"}`],
	}
}

func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// Eight clients on two emulated GPUs of 1.4 ms calls: every request is
// answered, the devices time every call, and no call is shorter than the
// profile's 1.4 ms. Where the requests wait (in the model's queue, where
// the server's statistics count them, not in front of it) is
// TestTimingEmulatedGPUWaitsInsideTheServer.
func TestEmulatedGPUsTimeTheirCalls(t *testing.T) {
	w := driveTwoEmulatedGPUs(t)
	if w.failed > 0 || w.ok == 0 {
		t.Fatalf("%d requests, %d failed", w.ok, w.failed)
	}
	if w.calls.Count() < w.ok {
		t.Fatalf("the devices timed %d calls for %d requests", w.calls.Count(), w.ok)
	}
	if med := time.Duration(w.calls.Quantile(0.5)); med < 1400*time.Microsecond {
		t.Fatalf("median device call %v, below the profile's 1.4 ms", med)
	}
	w.srv.ResetDeviceCalls()
	if n := w.srv.DeviceCalls().Count(); n != 0 {
		t.Fatalf("%d calls after ResetDeviceCalls, want 0", n)
	}
}

// twoGPUs is what eight clients on two emulated GPUs measured.
type twoGPUs struct {
	srv        *server.Server
	ok, failed int64
	serverNS   float64 // queue + compute per request, from the statistics
	clientNS   float64 // mean client latency
	calls      *hist.Histogram
}

func driveTwoEmulatedGPUs(t *testing.T) twoGPUs {
	t.Helper()
	srv, c := start(t, server.Options{EmulatedGPUs: 2, Profiles: map[string]*device.Profile{
		"calibrated": {Device: "test", Points: []device.ProfilePoint{{Batch: 1, P50US: 1400}}},
	}})
	calibrated(t, c, 1, "0", "0", func(cfg *pb.ModelConfig) {
		cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: 1, Kind: pb.ModelInstanceGroup_KIND_GPU, Gpus: []int32{0, 1}}}
	})
	srv.ResetDeviceCalls()
	before, err := c.Statistics(ctxT(t), "calibrated", "")
	if err != nil {
		t.Fatal(err)
	}
	ok, failed, lat := drive(t, c, 8, 800*time.Millisecond, 1)
	after, err := c.Statistics(ctxT(t), "calibrated", "")
	if err != nil {
		t.Fatal(err)
	}
	w := twoGPUs{srv: srv, ok: ok, failed: failed, calls: srv.DeviceCalls()}
	b, a := before[0].GetInferenceStats(), after[0].GetInferenceStats()
	if n := float64(a.GetSuccess().GetCount() - b.GetSuccess().GetCount()); n > 0 {
		w.serverNS = float64(a.GetQueue().GetNs()-b.GetQueue().GetNs()+a.GetComputeInfer().GetNs()-b.GetComputeInfer().GetNs()) / n
	}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	if len(lat) > 0 {
		w.clientNS = float64(sum) / float64(len(lat))
	}
	return w
}

// An emulated GPU reports the memory its device profile gives for the
// instances placed on it (and nothing where no profile gives memory).
func TestEmulatedGPUMemoryFromProfile(t *testing.T) {
	prof, err := device.Load("h200-mlp")
	if err != nil || prof.Memory == nil {
		t.Fatalf("h200-mlp has no memory figures: %v", err)
	}
	srv, c := start(t, server.Options{EmulatedGPUs: 2, Profiles: map[string]*device.Profile{"mlp": prof}})
	ctx := ctxT(t)
	cfg, err := c.ModelConfig(ctx, "mlp", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg = proto.Clone(cfg).(*pb.ModelConfig)
	cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: 3, Kind: pb.ModelInstanceGroup_KIND_GPU, Gpus: []int32{0}}}
	if err := c.Load(ctx, "mlp", cfg); err != nil {
		t.Fatal(err)
	}
	m := scrape(t, srv.MetricsURL())
	used0 := m[`nv_gpu_memory_used_bytes{gpu_uuid="GPU-emulated-0",emulated="true"}`]
	used1 := m[`nv_gpu_memory_used_bytes{gpu_uuid="GPU-emulated-1",emulated="true"}`]
	want0 := prof.Memory.LoadedMiB*(1<<20) + 2*prof.Memory.PerInstanceBytes
	if used0 != want0 || used1 != prof.Memory.IdleMiB*(1<<20) {
		t.Fatalf("GPU 0 %v bytes (want %v: one copy loaded, two more instances), idle GPU 1 %v (want %v)", used0, want0, used1, prof.Memory.IdleMiB*(1<<20))
	}
}
