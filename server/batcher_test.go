package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
)

// gated is a model instance that records each batch it is given (the
// first input's first value of every row identifies the request) and
// holds it until the test releases it, so the tests decide when the
// instance is free: no assertion depends on how fast anything runs.
type gated struct {
	started chan []float32
	release chan struct{}
}

func (g *gated) Execute(_ context.Context, b *backend.Batch) error {
	g.started <- append([]float32(nil), b.Inputs[0].FP32...)
	<-g.release
	return nil
}

// gatedRuntime is a dynamic-batching runtime of one gated instance.
func gatedRuntime(t *testing.T, maxBatch int32, db *pb.ModelDynamicBatching) (*runtime, *gated) {
	t.Helper()
	cfg := &pb.ModelConfig{Name: "gated", MaxBatchSize: maxBatch, SchedulingChoice: &pb.ModelConfig_DynamicBatching{DynamicBatching: db}}
	g := &gated{started: make(chan []float32, 16), release: make(chan struct{})}
	rt := &runtime{mv: &modelVersion{stats: newModelStats()}, cfg: cfg, stop: make(chan struct{}), maxQueue: 64}
	if q := db.GetDefaultQueuePolicy().GetMaxQueueSize(); q > 0 {
		rt.maxQueue = int64(q)
	}
	in := &instance{inst: g, token: make(chan struct{}, 1)}
	rt.instances = []*instance{in}
	rt.free = make(chan *instance, 1)
	rt.free <- in
	rt.queue = make(chan *request, rt.maxQueue)
	rt.wg.Add(1)
	go rt.batcher()
	t.Cleanup(func() {
		// Let whatever is still held finish, then stop the batcher.
		go func() {
			for {
				select {
				case g.release <- struct{}{}:
				case <-rt.stop:
					return
				}
			}
		}()
		close(rt.stop)
		rt.wg.Wait()
	})
	return rt, g
}

type sent struct {
	id  float32
	err chan error
}

// send queues one request of one row identified by id.
func send(rt *runtime, id float32, timeoutUS uint64) sent {
	r := &request{ctx: context.Background(), rows: 1, arrived: time.Now(), timeoutUS: timeoutUS,
		inputs: []backend.Tensor{{Type: pb.DataType_TYPE_FP32, Shape: []int64{1, 1}, FP32: []float32{id}}}}
	s := sent{id: id, err: make(chan error, 1)}
	go func() { s.err <- rt.inferBatched(r) }()
	return s
}

// waitQueued waits until n requests sit in the queue channel (the
// batcher is holding the busy instance's turn). The wait is bounded by
// the test's deadline, not asserted on.
func waitQueued(t *testing.T, rt *runtime, n int) {
	t.Helper()
	for len(rt.queue) < n {
		if dl, ok := t.Deadline(); ok && time.Until(dl) < time.Second {
			t.Fatalf("%d requests queued, want %d", len(rt.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func next(t *testing.T, g *gated) []float32 {
	t.Helper()
	select {
	case b := <-g.started:
		return b
	case <-time.After(time.Minute):
		t.Fatal("no batch started")
		return nil
	}
}

func sizes(t *testing.T, g *gated, n int) []int {
	var out []int
	for i := 0; i < n; i++ {
		out = append(out, len(next(t, g)))
		g.release <- struct{}{}
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// With no delay, Triton's batcher sends a preferred size as soon as the
// queue reaches one, and otherwise everything queued (up to
// max_batch_size): 6 waiting with preferred size 4 go as 4 then 2.
func TestBatcherPreferredSizeWithoutDelay(t *testing.T) {
	rt, g := gatedRuntime(t, 8, &pb.ModelDynamicBatching{PreferredBatchSize: []int32{4}})
	send(rt, 0, 0)
	if b := next(t, g); len(b) != 1 {
		t.Fatalf("first batch %v, want the lone request", b)
	}
	for i := 1; i <= 6; i++ {
		send(rt, float32(i), 0)
	}
	waitQueued(t, rt, 6)
	g.release <- struct{}{}
	if got := sizes(t, g, 2); !equalInts(got, []int{4, 2}) {
		t.Fatalf("batches %v, want [4 2]", got)
	}
}

// With a delay, a preferred size goes at once (4 of 6 with preferred 4
// and 8); the rest wait for the delay or the next preferred size (8).
func TestBatcherPreferredSizesWithDelay(t *testing.T) {
	rt, g := gatedRuntime(t, 16, &pb.ModelDynamicBatching{PreferredBatchSize: []int32{4, 8}, MaxQueueDelayMicroseconds: uint64(time.Hour / time.Microsecond)})
	for i := 0; i < 4; i++ {
		send(rt, float32(i), 0)
	}
	if b := next(t, g); len(b) != 4 {
		t.Fatalf("first batch %d rows, want the preferred 4 without waiting out the delay", len(b))
	}
	for i := 4; i < 10; i++ {
		send(rt, float32(i), 0)
	}
	waitQueued(t, rt, 6)
	g.release <- struct{}{}
	if b := next(t, g); len(b) != 4 {
		t.Fatalf("second batch %d rows, want 4 (the largest preferred size the 6 queued reach)", len(b))
	}
	// Two remain, short of a preferred size: they wait (the delay is an
	// hour) until six more make 8.
	for i := 10; i < 16; i++ {
		send(rt, float32(i), 0)
	}
	waitQueued(t, rt, 6)
	g.release <- struct{}{}
	if b := next(t, g); len(b) != 8 {
		t.Fatalf("third batch %d rows, want 8", len(b))
	}
	g.release <- struct{}{}
}

// max_batch_size caps a batch; the rest form the next one.
func TestBatcherMaxBatchSize(t *testing.T) {
	rt, g := gatedRuntime(t, 4, &pb.ModelDynamicBatching{})
	send(rt, 0, 0)
	next(t, g)
	for i := 1; i <= 7; i++ {
		send(rt, float32(i), 0)
	}
	waitQueued(t, rt, 7)
	g.release <- struct{}{}
	if got := sizes(t, g, 2); !equalInts(got, []int{4, 3}) {
		t.Fatalf("batches %v, want [4 3] under max_batch_size 4", got)
	}
}

// The queue policy: max_queue_size refuses at once; a request queued
// past default_timeout_microseconds is rejected (REJECT) with Triton's
// UNAVAILABLE, and a request's own shorter timeout counts where
// allow_timeout_override says so.
func TestBatcherQueuePolicyReject(t *testing.T) {
	rt, g := gatedRuntime(t, 8, &pb.ModelDynamicBatching{DefaultQueuePolicy: &pb.ModelQueuePolicy{
		MaxQueueSize: 3, AllowTimeoutOverride: true, TimeoutAction: pb.ModelQueuePolicy_REJECT}})
	first := send(rt, 0, 0)
	next(t, g)
	late := send(rt, 1, 1) // may wait 1 µs
	waitQueued(t, rt, 1)
	patient := send(rt, 2, 0)
	waitQueued(t, rt, 2)
	// Three are pending (one running, two queued): the fourth is refused.
	if err := <-send(rt, 3, 0).err; status.Code(err) != codes.Unavailable {
		t.Fatalf("fourth request past max_queue_size 3: %v, want UNAVAILABLE", err)
	}
	// The late request has now waited longer than its 1 µs: a sleep is a
	// lower bound on elapsed time, not a measurement.
	time.Sleep(2 * time.Millisecond)
	g.release <- struct{}{}
	if err := <-late.err; status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "Request timeout expired") {
		t.Fatalf("timed-out request: %v, want UNAVAILABLE Request timeout expired", err)
	}
	if b := next(t, g); len(b) != 1 || b[0] != 2 {
		t.Fatalf("batch %v, want only the request without a timeout", b)
	}
	g.release <- struct{}{}
	for _, s := range []sent{first, patient} {
		if err := <-s.err; err != nil {
			t.Fatalf("request %v: %v", s.id, err)
		}
	}
}

// timeout_action DELAY moves timed-out requests behind the others.
func TestBatcherQueuePolicyDelay(t *testing.T) {
	rt, g := gatedRuntime(t, 1, &pb.ModelDynamicBatching{DefaultQueuePolicy: &pb.ModelQueuePolicy{
		AllowTimeoutOverride: true, TimeoutAction: pb.ModelQueuePolicy_DELAY}})
	send(rt, 0, 0)
	next(t, g)
	a := send(rt, 1, 1)
	waitQueued(t, rt, 1)
	b := send(rt, 2, 1)
	waitQueued(t, rt, 2)
	c := send(rt, 3, 0)
	waitQueued(t, rt, 3)
	time.Sleep(2 * time.Millisecond) // 1 and 2 are now past their 1 µs
	g.release <- struct{}{}
	var order []float32
	for i := 0; i < 3; i++ {
		order = append(order, next(t, g)[0])
		g.release <- struct{}{}
	}
	if order[0] != 3 || order[1] != 1 || order[2] != 2 {
		t.Fatalf("order %v, want [3 1 2]: the request in time first, then the delayed ones in arrival order", order)
	}
	for _, s := range []sent{a, b, c} {
		if err := <-s.err; err != nil {
			t.Fatalf("request %v: %v (DELAY must not reject)", s.id, err)
		}
	}
}

// formBatch follows Triton's decision on a queue, given the oldest
// request's age (pure: no clock involved).
func TestFormBatchDecisions(t *testing.T) {
	now := time.Unix(1000, 0)
	queue := func(n int, age time.Duration) []*request {
		var out []*request
		for i := 0; i < n; i++ {
			out = append(out, &request{rows: 1, arrived: now.Add(-age)})
		}
		return out
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		f        batchForm
		n        int
		age      time.Duration
		wantN    int
		wantWait time.Duration
	}{
		{"no delay sends what is queued", batchForm{maxRows: 8, maxPreferred: 8}, 3, 0, 3, 0},
		{"max batch caps", batchForm{maxRows: 8, maxPreferred: 8}, 11, 0, 8, 0},
		{"delay waits for more", batchForm{maxRows: 8, maxPreferred: 8, delay: 5 * ms}, 3, 2 * ms, 0, 3 * ms},
		{"delay passed sends", batchForm{maxRows: 8, maxPreferred: 8, delay: 5 * ms}, 3, 5 * ms, 3, 0},
		{"preferred reached goes at once", batchForm{maxRows: 8, preferred: []int{2, 6}, maxPreferred: 6, delay: 5 * ms}, 3, 0, 2, 0},
		{"past the largest preferred: capped there", batchForm{maxRows: 16, preferred: []int{4}, maxPreferred: 4, delay: 5 * ms}, 7, 0, 4, 0},
		{"delay passed: all gathered, up to max", batchForm{maxRows: 8, preferred: []int{2, 6}, maxPreferred: 6, delay: 5 * ms}, 5, 9 * ms, 5, 0},
	} {
		n, wait := tc.f.formBatch(queue(tc.n, tc.age), now)
		if n != tc.wantN || wait != tc.wantWait {
			t.Errorf("%s: got n=%d wait=%v, want n=%d wait=%v", tc.name, n, wait, tc.wantN, tc.wantWait)
		}
	}
}
