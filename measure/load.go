package measure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/hist"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/workload"
)

// recorder collects the latencies of one recording goroutine. The lock is
// uncontended except when the coordinator drains a window, so recording
// stays a histogram increment.
type recorder struct {
	mu       sync.Mutex
	h        hist.Histogram // requests taken after the warm-up
	warm     hist.Histogram // requests taken during the warm-up
	errors   int64
	rejected int64 // requests the server refused for overload (reject.go)
	lastErr  error
	failedAt int64 // start of the current run of failures, 0 when the last request succeeded
	io       ioTimes
	done     atomic.Int64
	_        [64]byte // keeps the next recorder's lock off this cache line
}

// record records a successful request's latency; warm says it was taken
// during the warm-up (take).
func (r *recorder) record(ns int64, warm bool) {
	r.mu.Lock()
	r.hist(warm).Record(ns)
	r.failedAt = 0
	r.mu.Unlock()
	r.done.Add(1)
}

// ioTimes sums the client's send and receive times of the requests
// whose call reports them (client.TimedCall).
type ioTimes struct{ n, sendNS, recvNS int64 }

func (t *ioTimes) add(u ioTimes) {
	t.n, t.sendNS, t.recvNS = t.n+u.n, t.sendNS+u.sendNS, t.recvNS+u.recvNS
}

// recordCall records a successful call's latency with its client times,
// when the call reports them.
func (r *recorder) recordCall(ns int64, call client.Call, warm bool) {
	tc, timed := call.(client.TimedCall)
	var t client.CallTimes
	if timed {
		t = tc.Times()
	}
	r.mu.Lock()
	r.hist(warm).Record(ns)
	r.failedAt = 0
	if timed {
		r.io.add(ioTimes{1, int64(t.Send), int64(t.Recv)})
	}
	r.mu.Unlock()
	r.done.Add(1)
}

// mismatch counts a response that did not match validation_data: an
// error of the measurement, but no failure of the server (the load
// goes on without pause).
func (r *recorder) mismatch(err error) {
	r.mu.Lock()
	r.errors++
	r.lastErr = err
	r.mu.Unlock()
}

// fail counts a failed request and reports how long this recorder has
// seen nothing but failures.
func (r *recorder) fail(now int64, err error) time.Duration {
	r.mu.Lock()
	r.errors++
	r.lastErr = err
	if r.failedAt == 0 {
		r.failedAt = now
	}
	d := time.Duration(now - r.failedAt)
	r.mu.Unlock()
	return d
}

// reject counts a request the server refused for overload. It neither
// ends nor starts a run of failures: the server answered.
func (r *recorder) reject() {
	r.mu.Lock()
	r.rejected++
	r.mu.Unlock()
	r.done.Add(1)
}

func (r *recorder) hist(warm bool) *hist.Histogram {
	if warm {
		return &r.warm
	}
	return &r.h
}

// drain moves the window's latencies into h and returns its errors and
// rejections. A request taken during the warm-up that ends in a window
// counts in it.
func (r *recorder) drain(h *hist.Histogram, io *ioTimes) (errs, rejected int64) {
	r.mu.Lock()
	h.Merge(&r.h)
	h.Merge(&r.warm)
	r.h.Reset()
	r.warm.Reset()
	errs, rejected = r.errors, r.rejected
	r.errors, r.rejected = 0, 0
	io.add(r.io)
	r.io = ioTimes{}
	r.mu.Unlock()
	return errs, rejected
}

// dropWarmup throws away what the warm-up's requests recorded, and keeps
// the latencies of requests taken since: with a fixed request count those
// are budgeted, and must count however soon they ended.
func (r *recorder) dropWarmup() {
	r.mu.Lock()
	r.warm.Reset()
	r.errors, r.rejected = 0, 0
	r.io = ioTimes{}
	r.mu.Unlock()
}

// run is the state shared by the load's goroutines.
type run struct {
	o     *Options
	p     *plan
	epoch time.Time // latencies and schedules are in ns since epoch

	ctx    context.Context // cancelled (with hardStop) to abandon requests in flight
	cancel context.CancelFunc
	// callCtx is what unary calls run under: never cancelled, because gRPC
	// derives a context per call and a cancellable parent shared by every
	// client costs a contended lock per request. hardStop closes the
	// connections instead.
	callCtx  context.Context
	hardOnce sync.Once

	stopping atomic.Bool   // no new requests
	stopCh   chan struct{} // closed with stopping, wakes sleeping senders
	stopOnce sync.Once
	limited  bool
	_        [64]byte     // budget is written per request: keep it off the lines read per request
	budget   atomic.Int64 // requests left after warm-up (Requests mode)
	warming  atomic.Bool  // requests taken now are the warm-up's
	_        [56]byte

	failOnce sync.Once
	failErr  error
	failed   chan struct{}

	wg        sync.WaitGroup
	allDone   chan struct{}
	recorders []*recorder
	clients   []*clientLoad
	// mismatched are the responses that did not match validation_data.
	mismatched mismatches
}

func (r *run) now() int64 { return int64(time.Since(r.epoch)) }

// hardStop abandons the requests in flight: streams end with r.ctx,
// unary calls with their connections.
func (r *run) hardStop() {
	r.hardOnce.Do(func() {
		r.cancel()
		r.p.closeLoad()
	})
}

// stop ends the load: no new requests; those in flight finish.
func (r *run) stop() {
	r.stopOnce.Do(func() {
		r.stopping.Store(true)
		close(r.stopCh)
	})
}

// abort records the first fatal error and stops the load.
func (r *run) abort(err error) {
	r.failOnce.Do(func() {
		r.failErr = err
		close(r.failed)
	})
	r.stop()
}

func (r *run) newRecorder() *recorder {
	rec := &recorder{}
	r.recorders = append(r.recorders, rec)
	return rec
}

// failure handles a failed request: a rejection for overload is counted
// apart and the load goes on; another failure is counted, and fatal when
// the model or request is wrong or when the recorder has seen only
// failures for ErrorGrace. It reports whether the goroutine should stop.
func (r *run) failure(c *clientLoad, rec *recorder, err error) bool {
	if r.stopping.Load() && r.ctx.Err() != nil {
		return true // cancelled by our own hard stop
	}
	if isRejection(err, c.conn) {
		rec.reject()
		if r.o.Mode == workload.ModeClosed && r.o.RPC == workload.RPCUnary {
			// A refused slot would otherwise resend at once, turning the
			// client into a busy loop against a server that refuses fast.
			time.Sleep(time.Millisecond)
		}
		return false
	}
	d := rec.fail(r.now(), err)
	if isFatal(err) || d >= r.o.ErrorGrace {
		r.abort(fmt.Errorf("client %d (server %s): %w", c.idx, c.conn.Addr(), err))
		return true
	}
	// A server that refuses fast must not turn the client into a busy loop.
	time.Sleep(time.Millisecond)
	return false
}

// clientLoad is one client: a stream of requests with its own slots.
type clientLoad struct {
	idx   int
	conn  client.Conn
	seqID int64
	quota int64        // requests this client sends in all (DataSeconds); 0: unlimited
	taken atomic.Int64 // requests taken against the quota
	sched schedule
	first bool // the next request starts the sequence
	ended bool // the last request carried sequence_end
	// templates is the number of request templates of the client's data
	// stream; step counts the requests sent, so that they take the
	// templates in turn.
	templates int
	step      atomic.Int64
}

// next is the index of the client's next request template.
func (c *clientLoad) next() int {
	if c.templates <= 1 {
		return 0
	}
	return int((c.step.Add(1) - 1) % int64(c.templates))
}

// take claims the next request; last says it is the client's final one,
// warm that it belongs to the warm-up.
func (r *run) take(c *clientLoad) (ok, last, warm bool) {
	if r.stopping.Load() {
		return false, false, false
	}
	if c.quota > 0 {
		n := c.taken.Add(1)
		if n > c.quota {
			return false, false, false
		}
		last = n == c.quota
	}
	warm = r.warming.Load()
	if r.limited {
		n := r.budget.Add(-1)
		if n < 0 {
			return false, false, false
		}
		// The budget is unlimited until the warm-up ends: the one atomic
		// store that sets it also decides which requests are budgeted, so
		// none is both uncounted and measured, or counted and dropped.
		warm = n >= r.o.Requests
	}
	return true, last, warm
}

// start launches every client's goroutines.
func (r *run) start() {
	o := r.o
	perClient := int64(0)
	total := int64(0)
	if o.DataSeconds > 0 {
		total = max(1, int64(math.Round(o.DataSeconds*o.InferenceRate)))
		perClient = total / int64(o.Clients)
	}
	for i := 0; i < o.Clients; i++ {
		c := &clientLoad{idx: i, conn: r.p.conn(i), seqID: o.SequenceIDBase + int64(i) + 1, first: true, templates: len(r.p.stream(i))}
		if total > 0 {
			c.quota = perClient
			if int64(i) < total%int64(o.Clients) {
				c.quota++
			}
			if c.quota == 0 {
				continue // more clients than requests: this one has no data
			}
		}
		if o.Mode == workload.ModeOpen {
			c.sched = newSchedule(o, i)
		}
		r.clients = append(r.clients, c)
		switch {
		case o.RPC == workload.RPCStream:
			rec := r.newRecorder()
			r.wg.Add(1)
			go func() { defer r.wg.Done(); r.streamClient(c, rec) }()
		case o.Mode == workload.ModeClosed:
			for s := 0; s < o.Concurrency; s++ {
				rec := r.newRecorder()
				r.wg.Add(1)
				go func() { defer r.wg.Done(); r.closedUnary(c, s, rec) }()
			}
		default:
			r.openUnary(c)
		}
	}
	go func() { r.wg.Wait(); close(r.allDone) }()
}

// closedUnary is one in-flight slot of a closed-loop unary client: send,
// wait, record, repeat.
func (r *run) closedUnary(c *clientLoad, slot int, rec *recorder) {
	var seq *seqFlags
	if r.o.Sequence {
		seq = newSeqFlags(c.seqID)
	}
	calls, ok := r.newSlot(c, slot, seq)
	if !ok {
		return
	}
	for {
		ok, last, warm := r.take(c)
		if !ok {
			break
		}
		k := c.next()
		call, ok := calls.get(k)
		if !ok {
			return
		}
		if seq != nil {
			seq.set(c.first, last)
			c.first = false
			c.ended = last
		}
		t0 := r.now()
		err := call.Do(r.callCtx)
		t1 := r.now()
		if err != nil {
			if r.failure(c, rec, err) {
				return
			}
			continue
		}
		if r.p.expect != nil && !r.matches(c, k, call, rec) {
			continue
		}
		rec.recordCall(t1-t0, call, warm)
	}
	if seq != nil && !c.first && !c.ended {
		r.endSequenceUnary(c, calls, seq)
	}
}

// matches checks the response to template k of client c against
// validation_data; a mismatch is counted as an error and not recorded
// as a latency (perf_analyzer drops the request too).
func (r *run) matches(c *clientLoad, k int, call client.Call, rec *recorder) bool {
	e := r.p.expectation(c.idx, k)
	if e == nil {
		return true
	}
	if err := e.check(call); err != nil {
		err = fmt.Errorf("client %d (server %s): %w", c.idx, c.conn.Addr(), err)
		rec.mismatch(err)
		r.mismatched.add(err)
		return false
	}
	return true
}

// slotCalls are one slot's prepared calls, one per request template of
// its client's data stream, each made on first use (a file of many
// entries need not cost every slot a call per entry up front).
type slotCalls struct {
	r     *run
	c     *clientLoad
	id    int
	seq   *seqFlags
	tmpls []*pb.ModelInferRequest
	calls []client.Call
}

// newSlot prepares a slot's first call; a request the connection cannot
// encode stops the load.
func (r *run) newSlot(c *clientLoad, slot int, seq *seqFlags) (*slotCalls, bool) {
	tmpls := r.p.stream(c.idx)
	s := &slotCalls{r: r, c: c, id: slot, seq: seq, tmpls: tmpls, calls: make([]client.Call, len(tmpls))}
	_, ok := s.get(0)
	return s, ok
}

// get returns the call of template k, preparing it if need be.
func (s *slotCalls) get(k int) (client.Call, bool) {
	if s.calls[k] != nil {
		return s.calls[k], true
	}
	call, err := s.c.conn.NewCall(s.r.p.newRequest(s.tmpls[k], s.id, s.seq))
	if err != nil {
		s.r.abort(fmt.Errorf("client %d (server %s): %w", s.c.idx, s.c.conn.Addr(), err))
		return nil, false
	}
	s.calls[k] = call
	return call, true
}

// endSequenceUnary sends a last, unrecorded request that ends the
// sequence, so that the server frees its state now rather than at idle
// time-out.
func (r *run) endSequenceUnary(c *clientLoad, calls *slotCalls, seq *seqFlags) {
	if r.ctx.Err() != nil {
		return
	}
	call, ok := calls.get(c.next())
	if !ok {
		return
	}
	seq.set(false, true)
	c.ended = true
	ctx, cancel := context.WithTimeout(r.ctx, r.o.DrainTimeout)
	defer cancel()
	if err := call.Do(ctx); err != nil {
		r.o.Logger.Debug("end of sequence", "client", c.idx, "err", err)
	}
}

// ticket is one scheduled request of an open-loop client.
type ticket struct {
	intended   int64
	last, warm bool
}

// openUnary starts an open-loop unary client: a dispatcher follows the
// schedule and hands each request's intended send time to a free slot.
// When every slot is busy, tickets wait and go late, timed from their
// intended time all the same.
func (r *run) openUnary(c *clientLoad) {
	tickets := make(chan ticket, r.o.Concurrency)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(tickets)
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for {
			at := c.sched.next()
			if !r.sleepUntil(at, timer) {
				return
			}
			ok, last, warm := r.take(c)
			if !ok {
				return
			}
			select {
			case tickets <- ticket{at, last, warm}:
			case <-r.stopCh:
				return
			}
		}
	}()
	// A sequence's requests must arrive in order: Concurrency is 1 then
	// (withDefaults), so one slot sends them all.
	var seq *seqFlags
	if r.o.Sequence {
		seq = newSeqFlags(c.seqID)
	}
	for s := 0; s < r.o.Concurrency; s++ {
		rec := r.newRecorder()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			calls, ok := r.newSlot(c, s, seq)
			if !ok {
				r.discard(tickets)
				return
			}
			for t := range tickets {
				if r.stopping.Load() {
					break
				}
				k := c.next()
				call, ok := calls.get(k)
				if !ok {
					r.discard(tickets)
					return
				}
				if seq != nil {
					seq.set(c.first, t.last)
					c.first = false
					c.ended = t.last
				}
				err := call.Do(r.callCtx)
				if err != nil {
					if r.failure(c, rec, err) {
						r.discard(tickets)
						return
					}
					continue
				}
				now := r.now()
				if r.p.expect != nil && !r.matches(c, k, call, rec) {
					continue
				}
				rec.recordCall(now-t.intended, call, t.warm)
			}
			if seq != nil && !c.first && !c.ended {
				r.endSequenceUnary(c, calls, seq)
			}
		}()
	}
}

// discard lets the dispatcher finish after a slot gave up.
func (r *run) discard(tickets <-chan ticket) {
	go func() {
		for range tickets {
		}
	}()
}

// sleepUntil waits until at (ns since epoch); false when stopping.
func (r *run) sleepUntil(at int64, timer *time.Timer) bool {
	d := time.Duration(at - r.now())
	if d <= 0 {
		return !r.stopping.Load()
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return !r.stopping.Load()
	case <-r.stopCh:
		return false
	}
}

// streamSlot is one request in flight on a stream.
type streamSlot struct {
	reqs []*pb.ModelInferRequest // one per template of the client's stream
	seq  *seqFlags
	sent atomic.Int64 // intended (open loop) or actual send time
	skip atomic.Bool  // not to be recorded (the request that ends a sequence)
	warm atomic.Bool  // taken during the warm-up
}

// streamClient drives one bidirectional stream: a sender keeps up to
// Concurrency requests outstanding (closed loop) or follows the schedule
// (open loop); a receiver matches responses to slots by id.
func (r *run) streamClient(c *clientLoad, rec *recorder) {
	o := r.o
	g, ok := c.conn.(*client.Client)
	if !ok {
		// withDefaults refuses streams over HTTP; this is the backstop.
		r.abort(fmt.Errorf("client %d (server %s): streams need gRPC", c.idx, c.conn.Addr()))
		return
	}
	st, err := g.OpenStream(r.ctx)
	if err != nil {
		r.abort(fmt.Errorf("client %d: %w", c.idx, err))
		return
	}
	defer st.Close()
	slots := make([]streamSlot, o.Concurrency)
	free := make(chan int32, o.Concurrency)
	for i := range slots {
		if o.Sequence {
			// All slots carry the same sequence; only flags differ.
			slots[i].seq = newSeqFlags(c.seqID)
		}
		slots[i].reqs = r.p.newRequests(c.idx, i, slots[i].seq)
		free <- int32(i)
	}
	if o.Mode == workload.ModeClosed && o.Concurrency == 1 {
		r.streamSerial(c, st, &slots[0], rec)
		return
	}

	recvDone := make(chan struct{})
	var closing atomic.Bool // our side is done: errors from here on are the stream's end
	go func() {
		defer close(recvDone)
		m := &pb.ModelStreamInferResponse{}
		for {
			err := st.RecvInto(m)
			now := r.now()
			var reqErr *client.RequestError
			if err != nil && !errors.As(err, &reqErr) {
				switch {
				case closing.Load() || r.stopping.Load():
				case errors.Is(err, io.EOF):
					r.abort(fmt.Errorf("client %d (server %s): stream closed by the server", c.idx, c.conn.Addr()))
				default:
					r.abort(fmt.Errorf("client %d (server %s): stream: %w", c.idx, c.conn.Addr(), err))
				}
				return
			}
			id, perr := strconv.Atoi(m.GetInferResponse().GetId())
			if perr != nil || id < 0 || id >= len(slots) {
				r.abort(fmt.Errorf("client %d: response with unknown id %q", c.idx, m.GetInferResponse().GetId()))
				return
			}
			if err != nil {
				if r.failure(c, rec, err) {
					return
				}
			} else if !slots[id].skip.Load() {
				rec.record(now-slots[id].sent.Load(), slots[id].warm.Load())
			}
			free <- int32(id)
		}
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	send := func(at int64, last, skip, warm bool) bool {
		var id int32
		select {
		case id = <-free:
		case <-recvDone:
			return false
		}
		s := &slots[id]
		if s.seq != nil {
			s.seq.set(c.first, last)
			c.first = false
			c.ended = last
		}
		if at < 0 {
			at = r.now()
		}
		s.sent.Store(at)
		s.skip.Store(skip)
		s.warm.Store(warm)
		if err := st.Send(s.reqs[c.next()]); err != nil {
			if !r.stopping.Load() {
				r.abort(fmt.Errorf("client %d (server %s): stream send: %w", c.idx, c.conn.Addr(), err))
			}
			return false
		}
		return true
	}
	for {
		at := int64(-1)
		if o.Mode == workload.ModeOpen {
			at = c.sched.next()
			if !r.sleepUntil(at, timer) {
				break
			}
		}
		ok, last, warm := r.take(c)
		if !ok || !send(at, last, false, warm) {
			break
		}
	}
	if o.Sequence && !c.first && !c.ended && r.ctx.Err() == nil {
		send(-1, true, true, false)
		c.ended = true
	}
	// Wait for what is in flight, then close our side.
	r.drainSlots(free, len(slots), recvDone)
	closing.Store(true)
	_ = st.Close()
	<-recvDone
}

// drainSlots waits until every slot is back, the receiver ends or the
// drain time-out passes.
func (r *run) drainSlots(free chan int32, n int, recvDone chan struct{}) {
	deadline := time.NewTimer(r.o.DrainTimeout)
	defer deadline.Stop()
	for k := 0; k < n; k++ {
		select {
		case <-free:
		case <-recvDone:
			return
		case <-deadline.C:
			return
		}
	}
}

// streamSerial is the closed loop with one request in flight: send and
// receive on one goroutine, sparing a hand-off per request.
func (r *run) streamSerial(c *clientLoad, st *client.Stream, s *streamSlot, rec *recorder) {
	m := &pb.ModelStreamInferResponse{}
	exchange := func() error {
		if err := st.Send(s.reqs[c.next()]); err != nil {
			return err
		}
		return st.RecvInto(m)
	}
	for {
		ok, last, warm := r.take(c)
		if !ok {
			break
		}
		if s.seq != nil {
			s.seq.set(c.first, last)
			c.first = false
			c.ended = last
		}
		t0 := r.now()
		err := exchange()
		t1 := r.now()
		if err != nil {
			var reqErr *client.RequestError
			if !errors.As(err, &reqErr) {
				if !r.stopping.Load() || r.ctx.Err() == nil {
					r.abort(fmt.Errorf("client %d (server %s): stream: %w", c.idx, c.conn.Addr(), err))
				}
				return
			}
			if r.failure(c, rec, err) {
				return
			}
			continue
		}
		rec.record(t1-t0, warm)
	}
	if s.seq != nil && !c.first && !c.ended && r.ctx.Err() == nil {
		s.seq.set(false, true)
		c.ended = true
		if err := exchange(); err != nil {
			r.o.Logger.Debug("end of sequence", "client", c.idx, "err", err)
		}
	}
}

// schedule yields an open-loop client's intended send times (ns since
// the epoch).
type schedule struct {
	arrival  string
	periodNS float64 // mean gap between requests
	t        float64 // next time, ns
	rng      *rand.Rand
	rate     float64
	frame    int64 // frames: current frame (second)
	left     int64 // frames: requests left in the current frame
}

func newSchedule(o *Options, client int) schedule {
	s := schedule{arrival: o.Arrival, rate: o.Rate, periodNS: 1e9 / o.Rate}
	switch o.Arrival {
	case workload.ArrivalConstant:
		// Spread the clients' phases so that the sum is evenly spaced.
		s.t = s.periodNS * float64(client) / float64(o.Clients)
	case workload.ArrivalPoisson:
		s.rng = rand.New(rand.NewPCG(o.Seed, uint64(client)+1))
		s.t = s.rng.ExpFloat64() * s.periodNS
	case workload.ArrivalFrames:
		s.frame = -1
	}
	return s
}

func (s *schedule) next() int64 {
	switch s.arrival {
	case workload.ArrivalFrames:
		// Frame k releases floor((k+1)·r) − floor(k·r) requests at k
		// seconds, so a fractional r averages out over frames.
		for s.left == 0 {
			s.frame++
			f := float64(s.frame)
			s.left = int64(math.Floor((f+1)*s.rate)) - int64(math.Floor(f*s.rate))
		}
		s.left--
		return s.frame * int64(time.Second)
	case workload.ArrivalPoisson:
		at := s.t
		s.t += s.rng.ExpFloat64() * s.periodNS
		return int64(at)
	default:
		at := s.t
		s.t += s.periodNS
		return int64(at)
	}
}
