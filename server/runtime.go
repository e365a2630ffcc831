package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
)

// request is one inference request inside the server.
type request struct {
	ctx     context.Context
	rows    int // batch dimension; 1 for models with max_batch_size 0
	inputs  []backend.Tensor
	bound   []bool // which inputs the request gave (binder's bookkeeping)
	seq     seqControl
	arrived time.Time

	outputs []backend.Tensor
	queueNS int64
	inNS    int64
	inferNS int64
	outNS   int64
	err     error
	done    chan struct{} // closed when a batched execution finished

	// Queue policy (dynamic batching): the request's own timeout in µs
	// (its "timeout" parameter; 0 none), when its queue timeout passes,
	// and whether timeout_action DELAY has moved it behind the others.
	timeoutUS uint64
	timeoutAt time.Time
	delayed   bool
}

type seqControl struct {
	key        string // correlation id as text; "" when the request has none
	start, end bool
}

// instance is one copy of a model, executing one batch at a time.
type instance struct {
	idx    int
	inst   backend.Instance
	token  chan struct{} // held while executing (sequence path)
	device *gpu          // emulated GPU, nil on CPU
}

// runtime is one configuration of one model version: its instances and
// scheduler. Reconfiguration builds a new runtime and drains the old one,
// so requests in flight finish on the configuration they started on.
type runtime struct {
	mv    *modelVersion
	cfg   *pb.ModelConfig
	model backend.Model

	instances []*instance
	free      chan *instance // idle instances (direct and batched paths)
	queue     chan *request  // dynamic batching only
	maxQueue  int64
	pending   atomic.Int64

	refs   atomic.Int64
	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup

	srv *Server // for ensembles: steps are looked up per request
}

func (rt *runtime) acquire() bool {
	rt.refs.Add(1)
	if rt.closed.Load() {
		rt.refs.Add(-1)
		return false
	}
	return true
}

func (rt *runtime) release() { rt.refs.Add(-1) }

// close stops new requests, waits for those in flight, then stops the
// batcher.
func (rt *runtime) close() {
	rt.closed.Store(true)
	for rt.refs.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
	close(rt.stop)
	rt.wg.Wait()
}

func newRuntime(srv *Server, mv *modelVersion, cfg *pb.ModelConfig) (*runtime, error) {
	rt := &runtime{mv: mv, cfg: cfg, stop: make(chan struct{}), srv: srv}
	rt.maxQueue = int64(srv.opts.MaxQueue)
	if q := cfg.GetDynamicBatching().GetDefaultQueuePolicy().GetMaxQueueSize(); q > 0 {
		rt.maxQueue = int64(q)
	}
	if cfg.GetPlatform() == "ensemble" {
		for _, st := range cfg.GetEnsembleScheduling().GetStep() {
			if _, err := srv.lookup(st.GetModelName(), versionString(st.GetModelVersion())); err != nil {
				return nil, fmt.Errorf("ensemble %q step %q: %s", cfg.Name, st.GetModelName(), status.Convert(err).Message())
			}
		}
		return rt, nil
	}
	m, err := backend.New(cfg)
	if err != nil {
		return nil, err
	}
	rt.model = m
	for _, g := range cfg.GetInstanceGroup() {
		devs, err := srv.devicesFor(cfg.Name, g)
		if err != nil {
			return nil, err
		}
		// Triton places count instances on each listed GPU.
		n := int(g.GetCount())
		placements := []*gpu{nil}
		if len(devs) > 0 {
			placements = devs
		}
		for _, d := range placements {
			for i := 0; i < n; i++ {
				bi, err := m.NewInstance()
				if err != nil {
					return nil, fmt.Errorf("model %q: create instance: %w", cfg.Name, err)
				}
				rt.instances = append(rt.instances, &instance{idx: len(rt.instances), inst: bi, token: make(chan struct{}, 1), device: d})
			}
		}
	}
	if len(rt.instances) == 0 {
		return nil, fmt.Errorf("model %q: instance_group gives no instances", cfg.Name)
	}
	rt.free = make(chan *instance, len(rt.instances))
	for _, in := range rt.instances {
		rt.free <- in
	}
	if cfg.GetDynamicBatching() != nil {
		rt.queue = make(chan *request, rt.maxQueue)
		rt.wg.Add(1)
		go rt.batcher()
	}
	return rt, nil
}

func versionString(v int64) string {
	if v <= 0 {
		return ""
	}
	return fmt.Sprint(v)
}

func (rt *runtime) queueFull() error {
	return status.Errorf(codes.Unavailable, "model %q: queue is full (%d requests waiting, max_queue_size %d); retry later, add instances or raise the limit",
		rt.cfg.Name, rt.pending.Load(), rt.maxQueue)
}

// infer runs r to completion on this runtime.
func (rt *runtime) infer(r *request) error {
	switch {
	case rt.cfg.GetPlatform() == "ensemble":
		return rt.inferEnsemble(r)
	case rt.cfg.GetSequenceBatching() != nil:
		return rt.inferSequence(r)
	case rt.queue != nil:
		return rt.inferBatched(r)
	default:
		return rt.inferDirect(r)
	}
}

func (rt *runtime) admit() error {
	if rt.pending.Add(1) > rt.maxQueue+int64(len(rt.instances)) {
		rt.pending.Add(-1)
		return rt.queueFull()
	}
	return nil
}

// inferDirect runs the request on the caller's goroutine on the first free
// instance: no batching means no reason to hand it to another goroutine.
func (rt *runtime) inferDirect(r *request) error {
	if err := rt.admit(); err != nil {
		return err
	}
	defer rt.pending.Add(-1)
	// The wait starts where decoding ended (serveInfer's clock reading;
	// an ensemble step's sub-request has inNS 0): no reading of its own.
	queued := r.arrived.Add(time.Duration(r.inNS))
	var in *instance
	select {
	case in = <-rt.free:
	case <-r.ctx.Done():
		return status.FromContextError(r.ctx.Err()).Err()
	}
	start := time.Now()
	r.queueNS = int64(start.Sub(queued))
	rt.execute(r.ctx, in, []*request{r}, nil, start)
	rt.free <- in
	return r.err
}

func (rt *runtime) inferBatched(r *request) error {
	if rt.pending.Add(1) > rt.maxQueue {
		rt.pending.Add(-1)
		return rt.queueFull()
	}
	r.done = make(chan struct{})
	select {
	case rt.queue <- r:
	default:
		rt.pending.Add(-1)
		return rt.queueFull()
	}
	<-r.done // the batch runs to completion even if this client leaves
	return r.err
}

// batcher forms batches as Triton's dynamic batcher does (see
// formBatch): when an instance is free it looks at what is queued and
// either sends a batch or waits, at most until the oldest request has
// waited max_queue_delay_microseconds. Requests whose queue timeout
// (default_queue_policy) passes while they wait are rejected or moved
// behind the others (timeout_action REJECT or DELAY).
func (rt *runtime) batcher() {
	defer rt.wg.Done()
	db := rt.cfg.GetDynamicBatching()
	f := batchForm{maxRows: int(rt.cfg.GetMaxBatchSize()), delay: time.Duration(db.GetMaxQueueDelayMicroseconds()) * time.Microsecond}
	for _, p := range db.GetPreferredBatchSize() {
		f.preferred = append(f.preferred, int(p))
	}
	slices.Sort(f.preferred)
	f.maxPreferred = f.maxRows
	if len(f.preferred) > 0 {
		f.maxPreferred = f.preferred[len(f.preferred)-1]
	}
	policy := db.GetDefaultQueuePolicy()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var pending []*request // taken from the queue, in arrival order (delayed ones last)
	for {
		var in *instance
		select {
		case in = <-rt.free:
		case <-rt.stop:
			rt.rejectAll(pending)
			return
		}
		for {
			if len(pending) == 0 {
				select {
				case r := <-rt.queue:
					pending = append(pending, r)
				case <-rt.stop:
					rt.free <- in
					return
				}
			}
		drain:
			for {
				select {
				case r := <-rt.queue:
					pending = append(pending, r)
				default:
					break drain
				}
			}
			now := time.Now()
			pending = rt.applyPolicy(pending, policy, now)
			if len(pending) == 0 {
				continue
			}
			n, wait := f.formBatch(pending, now)
			if n > 0 {
				batch := slices.Clone(pending[:n])
				pending = append(pending[:0], pending[n:]...)
				rt.run(in, batch)
				break
			}
			if t := pending[0].timeoutAt; !t.IsZero() && t.Sub(now) < wait {
				wait = max(t.Sub(now), time.Microsecond)
			}
			timer.Reset(wait)
			select {
			case r := <-rt.queue:
				timer.Stop()
				pending = append(pending, r)
			case <-timer.C:
			case <-rt.stop:
				timer.Stop()
				rt.free <- in
				rt.rejectAll(pending)
				return
			}
		}
	}
}

// run executes a batch on in on a goroutine of its own.
func (rt *runtime) run(in *instance, batch []*request) {
	now := time.Now()
	for _, r := range batch {
		r.queueNS = int64(now.Sub(r.arrived))
	}
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		rt.execute(context.Background(), in, batch, nil, now)
		// Answer before freeing the instance: the next batch then forms
		// from requests that arrive from now on, as on a real server
		// where responses leave before the instance picks up new work.
		for _, r := range batch {
			rt.pending.Add(-1)
			close(r.done)
		}
		rt.free <- in
	}()
}

// rejectAll answers requests left queued when the runtime stops.
func (rt *runtime) rejectAll(rs []*request) {
	for _, r := range rs {
		r.err = status.Errorf(codes.Unavailable, "model %q was reconfigured or unloaded while the request waited", rt.cfg.Name)
		rt.pending.Add(-1)
		close(r.done)
	}
}

// applyPolicy enforces the queue policy's timeout: a request queued past
// its timeout (default_timeout_microseconds, or the request's own
// "timeout" parameter where allow_timeout_override lets it be shorter)
// is answered UNAVAILABLE with timeout_action REJECT, and with DELAY goes
// behind every request still in time.
func (rt *runtime) applyPolicy(pending []*request, policy *pb.ModelQueuePolicy, now time.Time) []*request {
	if policy.GetDefaultTimeoutMicroseconds() == 0 && !policy.GetAllowTimeoutOverride() {
		return pending
	}
	var keep, late []*request
	for _, r := range pending {
		if r.timeoutAt.IsZero() && !r.delayed {
			us := policy.GetDefaultTimeoutMicroseconds()
			if policy.GetAllowTimeoutOverride() && r.timeoutUS != 0 && (us == 0 || r.timeoutUS < us) {
				us = r.timeoutUS
			}
			if us > 0 {
				r.timeoutAt = r.arrived.Add(time.Duration(us) * time.Microsecond)
			}
		}
		if r.delayed || r.timeoutAt.IsZero() || !now.After(r.timeoutAt) {
			if r.delayed {
				late = append(late, r)
			} else {
				keep = append(keep, r)
			}
			continue
		}
		if policy.GetTimeoutAction() == pb.ModelQueuePolicy_DELAY {
			r.delayed = true
			late = append(late, r)
			continue
		}
		r.err = status.Errorf(codes.Unavailable, "Request timeout expired (model %q: queued longer than its %v queue timeout)", rt.cfg.Name, r.timeoutAt.Sub(r.arrived))
		r.queueNS = int64(now.Sub(r.arrived))
		rt.pending.Add(-1)
		close(r.done)
	}
	return append(keep, late...)
}

// batchForm holds what the dynamic batcher needs to decide on a batch.
type batchForm struct {
	maxRows      int
	preferred    []int // sorted
	maxPreferred int   // the largest preferred size, or maxRows without any
	delay        time.Duration
}

// formBatch decides, as Triton's dynamic batcher decides, how many of the
// queued requests (oldest first) form the next batch, or how long to wait
// for more (n = 0). Walking the queue it adds requests while the batch
// fits max_batch_size, remembering the last size that is a preferred
// size, or where the batch first outgrew the largest preferred size.
// Then: such a size is sent at once unless the oldest request has waited
// max_queue_delay (then everything gathered goes); a batch that reached
// the largest preferred size, or could take no more, goes; with no delay
// configured, what is queued goes at once; otherwise it waits until the
// oldest request's delay runs out.
func (f batchForm) formBatch(pending []*request, now time.Time) (n int, wait time.Duration) {
	rows, best, full := 0, 0, false
	for i, r := range pending {
		if i > 0 {
			if rows+r.rows > f.maxPreferred && best == 0 {
				best = i
			}
			if rows+r.rows > f.maxRows {
				full = true
				break
			}
		}
		rows += r.rows
		n = i + 1
		if slices.Contains(f.preferred, rows) {
			best = n
		}
	}
	age := now.Sub(pending[0].arrived)
	exceeded := f.delay > 0 && age >= f.delay
	switch {
	case best > 0 && !exceeded:
		return best, 0
	case full || rows >= f.maxPreferred || exceeded || f.delay == 0:
		return n, 0
	}
	return 0, f.delay - age
}

// sequence is one stateful sequence pinned to an instance slot.
type sequence struct {
	slot  int
	state any
	last  atomic.Int64 // unix nanos of the last request
}

func (rt *runtime) inferSequence(r *request) error {
	mv := rt.mv
	if r.seq.key == "" {
		return status.Errorf(codes.InvalidArgument, "model %q is stateful: send the sequence_id parameter (with sequence_start on a sequence's first request)", rt.cfg.Name)
	}
	mv.seqMu.Lock()
	s := mv.seqs[r.seq.key]
	switch {
	case r.seq.start:
		if s == nil {
			s = &sequence{slot: mv.nextSlot}
			mv.nextSlot++
			mv.seqs[r.seq.key] = s
		}
		s.state = rt.model.NewState() // START resets the sequence's state
	case s == nil:
		mv.seqMu.Unlock()
		return status.Errorf(codes.InvalidArgument,
			"model %q: sequence %s is not active (never started, already ended, or idle longer than max_sequence_idle_microseconds); send sequence_start on its first request",
			rt.cfg.Name, r.seq.key)
	}
	s.last.Store(time.Now().UnixNano())
	state := s.state
	mv.seqMu.Unlock()

	if err := rt.admit(); err != nil {
		return err
	}
	defer rt.pending.Add(-1)
	in := rt.instances[s.slot%len(rt.instances)]
	t0 := time.Now()
	select {
	case in.token <- struct{}{}:
	case <-r.ctx.Done():
		return status.FromContextError(r.ctx.Err()).Err()
	}
	start := time.Now()
	r.queueNS = int64(start.Sub(t0))
	rt.execute(r.ctx, in, []*request{r}, state, start)
	<-in.token
	if r.seq.end {
		mv.seqMu.Lock()
		if mv.seqs[r.seq.key] == s {
			delete(mv.seqs, r.seq.key)
		}
		mv.seqMu.Unlock()
	}
	return r.err
}

// execute runs one batch made of reqs on in and splits the outputs; start
// is when the batch left its queue (the caller's clock reading). A single
// request's batch needs no merging or splitting, so its compute input and
// output take no clock readings and count 0 ns.
func (rt *runtime) execute(ctx context.Context, in *instance, reqs []*request, state any, start time.Time) {
	t0, t1 := start, start
	b := backend.Batch{State: state}
	if len(reqs) == 1 {
		r := reqs[0]
		b.Rows, b.Inputs = r.rows, r.inputs
	} else {
		mergeInputs(&b, reqs)
		t1 = time.Now()
	}
	var err error
	if in.device != nil {
		err = in.device.run(ctx, rt.cfg.Name, b.Rows, func() error { return in.inst.Execute(ctx, &b) })
	} else {
		err = in.inst.Execute(ctx, &b)
	}
	t2 := time.Now()
	t3 := t2
	if err == nil {
		err = splitOutputs(&b, reqs)
		if len(reqs) > 1 {
			t3 = time.Now()
		}
	}
	inNS, inferNS, outNS := int64(t1.Sub(t0)), int64(t2.Sub(t1)), int64(t3.Sub(t2))
	if errors.Is(err, backend.ErrInput) {
		err = status.Errorf(codes.InvalidArgument, "model %q: %v", rt.cfg.Name, err)
	} else if err != nil {
		err = status.Errorf(codes.Internal, "model %q: execution failed: %v", rt.cfg.Name, err)
	} else {
		rt.mv.stats.execution(b.Rows, inNS, inferNS, outNS)
	}
	for _, r := range reqs {
		r.err = err
		r.inNS += inNS
		r.inferNS += inferNS
		r.outNS += outNS
	}
}

func mergeInputs(b *backend.Batch, reqs []*request) {
	rows := 0
	for _, r := range reqs {
		rows += r.rows
	}
	b.Rows = rows
	n := len(reqs[0].inputs)
	b.Inputs = make([]backend.Tensor, n)
	for i := 0; i < n; i++ {
		first := &reqs[0].inputs[i]
		t := backend.Tensor{Type: first.Type, Shape: slices.Clone(first.Shape)}
		t.Shape[0] = int64(rows)
		switch t.Type {
		case pb.DataType_TYPE_FP32:
			total := 0
			for _, r := range reqs {
				total += len(r.inputs[i].FP32)
			}
			t.FP32 = make([]float32, 0, total)
			for _, r := range reqs {
				t.FP32 = append(t.FP32, r.inputs[i].FP32...)
			}
		case pb.DataType_TYPE_STRING:
			total := 0
			for _, r := range reqs {
				total += len(r.inputs[i].Bytes)
			}
			t.Bytes = make([][]byte, 0, total)
			for _, r := range reqs {
				t.Bytes = append(t.Bytes, r.inputs[i].Bytes...)
			}
		default:
			total := 0
			for _, r := range reqs {
				total += len(r.inputs[i].Raw)
			}
			t.Raw = make([]byte, 0, total)
			for _, r := range reqs {
				t.Raw = append(t.Raw, r.inputs[i].Raw...)
			}
		}
		b.Inputs[i] = t
	}
}

func splitOutputs(b *backend.Batch, reqs []*request) error {
	if len(reqs) == 1 {
		reqs[0].outputs = b.Outputs
		return nil
	}
	for _, r := range reqs {
		r.outputs = make([]backend.Tensor, len(b.Outputs))
	}
	for i := range b.Outputs {
		out := &b.Outputs[i]
		n := out.Len()
		if b.Rows == 0 || n%b.Rows != 0 || len(out.Shape) == 0 {
			return fmt.Errorf("output %d has %d values, not a multiple of the batch %d", i, n, b.Rows)
		}
		per := n / b.Rows
		size := backend.ElementSize(out.Type)
		off := 0
		for _, r := range reqs {
			t := backend.Tensor{Type: out.Type, Shape: slices.Clone(out.Shape)}
			t.Shape[0] = int64(r.rows)
			lo, hi := off*per, (off+r.rows)*per
			switch out.Type {
			case pb.DataType_TYPE_FP32:
				t.FP32 = out.FP32[lo:hi:hi]
			case pb.DataType_TYPE_STRING:
				t.Bytes = out.Bytes[lo:hi:hi]
			default:
				t.Raw = out.Raw[lo*size : hi*size : hi*size]
			}
			r.outputs[i] = t
			off += r.rows
		}
	}
	return nil
}

// inferEnsemble runs the steps in order, passing tensors in memory. The
// ensemble's queue and compute times are the sums over its steps, which is
// how its statistics explain where the time went.
func (rt *runtime) inferEnsemble(r *request) error {
	tensors := make(map[string]backend.Tensor, 4)
	for i, in := range rt.cfg.GetInput() {
		tensors[in.GetName()] = r.inputs[i]
	}
	for _, st := range rt.cfg.GetEnsembleScheduling().GetStep() {
		srt, err := rt.srv.acquire(st.GetModelName(), versionString(st.GetModelVersion()))
		if err != nil {
			return status.Errorf(status.Code(err), "ensemble %q step %q: %s", rt.cfg.Name, st.GetModelName(), status.Convert(err).Message())
		}
		sub := &request{ctx: r.ctx, rows: r.rows, seq: r.seq, arrived: time.Now()}
		for _, in := range srt.cfg.GetInput() {
			name, ok := st.GetInputMap()[in.GetName()]
			if !ok {
				name = in.GetName()
			}
			t, ok := tensors[name]
			if !ok {
				srt.release()
				return status.Errorf(codes.Internal, "ensemble %q step %q: tensor %q for input %q is not produced by any earlier step", rt.cfg.Name, st.GetModelName(), name, in.GetName())
			}
			if t.Type != in.GetDataType() {
				srt.release()
				return status.Errorf(codes.InvalidArgument, "ensemble %q step %q: tensor %q is %s but input %q takes %s", rt.cfg.Name, st.GetModelName(), name, t.Type, in.GetName(), in.GetDataType())
			}
			sub.inputs = append(sub.inputs, t)
		}
		err = srt.infer(sub)
		srt.mv.stats.request(err == nil, sub.arrived, time.Now(), sub.queueNS, sub.inNS, sub.inferNS, sub.outNS)
		srt.release()
		if err != nil {
			return err
		}
		r.queueNS += sub.queueNS
		r.inNS += sub.inNS
		r.inferNS += sub.inferNS
		r.outNS += sub.outNS
		for i, out := range srt.cfg.GetOutput() {
			name, ok := st.GetOutputMap()[out.GetName()]
			if !ok {
				continue
			}
			if i >= len(sub.outputs) {
				return status.Errorf(codes.Internal, "ensemble %q step %q: backend produced %d outputs, config declares %d", rt.cfg.Name, st.GetModelName(), len(sub.outputs), len(srt.cfg.GetOutput()))
			}
			tensors[name] = sub.outputs[i]
		}
	}
	for _, out := range rt.cfg.GetOutput() {
		t, ok := tensors[out.GetName()]
		if !ok {
			return status.Errorf(codes.Internal, "ensemble %q: no step produces output %q", rt.cfg.Name, out.GetName())
		}
		r.outputs = append(r.outputs, t)
	}
	rt.mv.stats.execution(r.rows, 0, 0, 0)
	return nil
}
