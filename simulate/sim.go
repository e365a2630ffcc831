// Package simulate predicts what a sweep would measure with a
// discrete-event model of servers, emulated devices (GPUs), model
// instances, Triton's schedulers and the clients of a scenario's workload,
// so that configurations far beyond what one machine can run (a thousand
// GPUs, ten thousand streams) can be costed in seconds. Every figure it
// writes is labelled results.SourceSimulated.
//
// The model mirrors the embedded server (package server):
//   - Placement: per server, `instances` instances on each GPU (as a
//     KIND_GPU group); without GPUs, `instances` instances each with a
//     private executor (the profile then stands for the CPU; its cores
//     are shared only with HostModel.DeviceOnHost).
//   - Service: a call of a batch of rows holds its device for the
//     profile's service time of those rows; a device runs one call at a
//     time (instances on one GPU share its capacity); an instance runs one
//     batch at a time.
//   - Scheduling: without batching a request takes the first free
//     instance (FIFO); dynamic batching forms a batch when an instance is
//     free, up to max_batch_size, waiting up to max_queue_delay for the
//     largest preferred size; a sequence is pinned to an instance slot
//     round-robin in start order. A server queues at most max_queue_size
//     requests and rejects more (errors; a closed-loop client backs off
//     1 ms). Ensembles run as one model.
//   - Overhead: each request spends a client/network time outside the
//     server, half before and half after it: a constant, or an empirical
//     distribution (CalibrateOverhead fits both from a measured sweep).
//   - Host: nil for a GPU server. A HostModel (host.go) puts clients and
//     servers on one machine, as an embedded sweep runs: the overhead,
//     and with the embedded server's settings the device calls and
//     background work, become jobs on a few shared cores, so the host,
//     not the devices, can cap throughput.
//   - Clients, as package measure drives them: closed loop keeps
//     `concurrency` requests in flight per client; open loop sends at rate
//     r per client: constant (clients staggered evenly over a period),
//     Poisson, or frames (all clients receive r requests at each whole
//     second). Latency counts from the intended send time. Open-loop
//     in-flight requests are not capped.
//
// The event loop keeps events as values in a slice-based heap plus a FIFO
// delay line for constant-delay trips, reuses request slots, and turns n
// open-loop sources into one, so a run allocates little beyond its working
// set (see BenchmarkSimulateLarge).
package simulate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// DefaultOverhead is the client/network time per request outside the
// server when none is given: a loopback gRPC round trip of a small
// request costs a few tens of microseconds of client and transport work.
const DefaultOverhead = 50 * time.Microsecond

// retryBackoff is how long a closed-loop client waits after its request
// was rejected for a full queue before it sends again.
const retryBackoff = 0.001

// DefaultMaxQueue is the number of requests a server queues before
// rejecting, as the embedded server's default.
const DefaultMaxQueue = 1024

// Config is one simulated deployment driven by one workload: what one
// point of a scenario means to the model.
type Config struct {
	Servers   int // hosts, each with its own GPUs, instances and queues (at least 1)
	GPUs      int // devices per server; 0 runs instances on CPU, each its own executor
	Instances int // instances per GPU (per server without GPUs); at least 1
	Clients   int // clients (streams) per server; at least 1

	Mode    string  // workload.ModeClosed or workload.ModeOpen
	Arrival string  // open loop: workload.ArrivalConstant, ArrivalPoisson or ArrivalFrames
	Rate    float64 // open loop: requests per second per client (r); closed loop with DataSeconds: r
	// Concurrency is the number of requests each closed-loop client keeps
	// in flight (at least 1).
	Concurrency int
	BatchSize   int  // rows per request (at least 1)
	Sequence    bool // each client is a sequence pinned to one instance

	// MaxBatchSize caps the rows of a dynamically formed batch; 0 means no
	// cap.
	MaxBatchSize        int
	DynamicBatching     bool
	PreferredBatchSizes []int
	MaxQueueDelay       time.Duration
	// MaxQueueSize is how many requests one server queues before it
	// rejects new ones (counted as errors); 0 means DefaultMaxQueue.
	MaxQueueSize int

	// ServiceTime is the device time of one call of a batch of rows
	// (required), e.g. device.Profile.ServiceTime.
	ServiceTime func(rows int) time.Duration
	// ExponentialService draws each call's time from an exponential
	// distribution with ServiceTime's mean instead of using it as is (a
	// validation aid: it turns the device into an M/M/1 server).
	ExponentialService bool
	// Overshoot, when positive, adds to each call an exponentially
	// distributed extra time of this mean: a device that wakes late by a
	// random amount (an emulated GPU's sleeping thread), not by a
	// constant.
	Overshoot time.Duration
	// ServiceExcess, when given, replaces Overshoot with an empirical
	// distribution: each call adds one of these (equally likely) excesses
	// over its service time, as an emulated device measured them.
	ServiceExcess []time.Duration
	// Jitter spreads each call's time uniformly by ±Jitter (a fraction).
	Jitter float64

	// Overhead is the client/network time of a request outside the
	// server: half before it reaches the server, half after it leaves.
	Overhead time.Duration
	// OverheadQuantiles, when given, replace the constant Overhead by an
	// empirical distribution: each request's overhead is one of these
	// values (equally likely), e.g. quantiles of measured latency minus
	// service time at one client (see CalibrateOverhead).
	OverheadQuantiles []time.Duration
	// Host, when given, runs clients and servers on one machine whose
	// cores they share (see HostModel); nil: the overhead is latency only
	// and the host unlimited, as for GPU servers.
	Host *HostModel

	Warmup   time.Duration // simulated and discarded
	Duration time.Duration // measured window after Warmup
	// Window splits the measured window into windows (0: one window).
	Window time.Duration
	// Requests, when positive, ends the measurement after that many
	// measured responses (the window then ends early).
	Requests int
	// DataSeconds, when positive (closed loop), is an amount of data split
	// evenly over all clients, each request carrying 1/Rate seconds of it;
	// the run measures from the start until the last response.
	DataSeconds float64

	// SampleInterval is the GPU utilisation sampling period (default
	// 100 ms, as NVML is sampled).
	SampleInterval time.Duration
	// KeepSeries is the most GPUs whose utilisation series are kept
	// (default 64); summaries always cover every GPU.
	KeepSeries int
	// MaxSimTime bounds simulated time (default one hour).
	MaxSimTime time.Duration
	Seed       uint64
}

// Result is what one simulation measured in its window.
type Result struct {
	DurationS  float64 // measured window
	Requests   int64   // responses received in the window
	Inferences int64   // their rows
	Errors     int64   // requests rejected for a full queue in the window
	Latency    *hist.Histogram
	Windows    []results.Window

	QueueS     float64   // summed server queue time of the measured requests
	InferS     float64   // summed device wait + service time of the measured requests
	Executions int64     // calls (batches) finished in the window
	ExecRows   int64     // rows of those calls
	GPUUtil    []float64 // per GPU (server-major), busy fraction over the window
	GPUUtilMax float64   // highest sampled utilisation, fraction
	// HostCPUUtil is, with a Host, the busy fraction of its cores over
	// the window.
	HostCPUUtil float64
	Series      []results.Series
	SeriesNotes []string
	Events      int64   // events processed
	SimulatedS  float64 // simulated time at the end, warm-up included
	// Incomplete says why the window fell short of what was asked, or "".
	Incomplete string
}

type request struct {
	client   int32
	rows     int32
	half     float64 // this request's overhead/2, each way
	sent     float64 // intended send time: latency counts from here
	arrive   float64 // at the server
	dispatch float64 // batch handed to an instance
	finished float64 // the call that ran it ended
	rejected bool
	holds    int32 // host: device+1 freed when its reply's CPU work is done (HandoffAfterReply)
}

type clientState struct {
	server int32
	inst   int32 // pinned instance (sequences), -1 otherwise
	left   int64 // requests still to send (data budget), -1 unlimited
}

type serverState struct {
	queue   fifo // waiting requests (direct and batched paths)
	free    fifo // idle instances, in the order they became idle
	waiting int  // queued requests on every path, for admission

	gathering bool  // the batcher holds gInst and waits for more requests
	gInst     int32 //
	token     int32 // invalidates stale deadline events
	carry     int32 // request that did not fit the last batch, -1 if none
	nextSlot  int32 // sequences started so far: slot round-robin
	firstInst int32
	nInst     int32
}

type instState struct {
	server int32
	dev    int32
	busy   bool
	batch  []int32
	rows   int
	seqQ   fifo // sequence path: requests pinned here wait in order
}

type devState struct {
	gpu      bool
	busy     bool
	cur      int32 // executing instance
	wait     fifo  // instances waiting for the device
	busyAcc  float64
	handoff  bool // host: the call is over, the device awaits its handoff: not busy
	since    float64
	measBase float64 // busy time at the start of the window
	lastBusy float64 // busy time at the last sample
}

type sim struct {
	cfg       Config
	q         eventQueue
	rng       *rand.Rand
	now       float64
	half      float64   // overhead/2 in seconds (constant overhead)
	ovhQ      []float64 // empirical overhead/2 values in seconds, sorted, if any
	excessQ   []float64 // empirical service excess in seconds, sorted, if any
	busyGPUs  int       // GPUs with a call on them
	maxRows   int
	target    int
	delay     float64
	maxQueue  int
	reqs      []request
	freeReqs  []int32
	clients   []clientState
	servers   []serverState
	insts     []instState
	devs      []devState
	host      *host // nil without a HostModel
	measuring bool
	done      bool
	wStart    float64
	wEnd      float64
	inflight  int64
	sent      int64 // open loop, constant: sends so far
	res       *Result
	winHist   []*hist.Histogram
	winCount  []int64
	winRows   []int64
	series    [][]float64 // per kept GPU
	seriesT   []float64
	gpuIdx    []int32 // device ids of GPUs
}

// Validate checks a Config and names the first bad field.
func (c *Config) Validate() error {
	switch {
	case c.Servers < 1:
		return fmt.Errorf("servers must be at least 1, got %d", c.Servers)
	case c.GPUs < 0:
		return fmt.Errorf("gpus must not be negative, got %d", c.GPUs)
	case c.Instances < 1:
		return fmt.Errorf("instances must be at least 1, got %d", c.Instances)
	case c.Clients < 1:
		return fmt.Errorf("clients must be at least 1, got %d", c.Clients)
	case c.BatchSize < 1:
		return fmt.Errorf("batch size must be at least 1, got %d", c.BatchSize)
	case c.ServiceTime == nil:
		return errors.New("no service time (give a device profile)")
	case c.Overhead < 0:
		return fmt.Errorf("overhead must not be negative, got %v", c.Overhead)
	case slices.ContainsFunc(c.OverheadQuantiles, func(d time.Duration) bool { return d < 0 }):
		return errors.New("overhead quantiles must not be negative")
	case c.MaxBatchSize > 0 && c.BatchSize > c.MaxBatchSize:
		return fmt.Errorf("batch size %d exceeds the model's max_batch_size %d", c.BatchSize, c.MaxBatchSize)
	case c.Jitter < 0 || c.Jitter >= 1:
		return fmt.Errorf("jitter must be in [0, 1), got %g", c.Jitter)
	}
	if c.Host != nil {
		if err := c.Host.validate(c); err != nil {
			return err
		}
	}
	switch c.Mode {
	case workload.ModeClosed:
		if c.DataSeconds > 0 {
			if !(c.Rate > 0) {
				return fmt.Errorf("a data budget needs the sampling rate r > 0, got %g", c.Rate)
			}
		} else if c.Concurrency < 1 {
			return fmt.Errorf("closed-loop concurrency must be at least 1, got %d", c.Concurrency)
		}
	case workload.ModeOpen:
		if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
			return fmt.Errorf("open-loop rate must be positive, got %g", c.Rate)
		}
		if c.DataSeconds > 0 {
			return errors.New("a data budget needs a closed loop")
		}
		switch c.Arrival {
		case workload.ArrivalConstant, workload.ArrivalPoisson, workload.ArrivalFrames:
		default:
			return fmt.Errorf("unknown arrival %q (want constant, poisson or frames)", c.Arrival)
		}
	default:
		return fmt.Errorf("unknown mode %q (want closed or open)", c.Mode)
	}
	if c.DataSeconds <= 0 && c.Duration <= 0 && c.Requests <= 0 {
		return errors.New("nothing to measure: give a duration, a request count or a data budget")
	}
	if int64(c.Servers)*int64(max(c.GPUs, 1))*int64(c.Instances) > 1<<24 {
		return fmt.Errorf("%d servers × %d GPUs × %d instances is too many instances to simulate", c.Servers, c.GPUs, c.Instances)
	}
	if int64(c.Servers)*int64(c.Clients) > 1<<24 {
		return fmt.Errorf("%d servers × %d clients is too many clients to simulate", c.Servers, c.Clients)
	}
	return nil
}

// Simulate runs the model of one configuration and returns what a
// measurement of its window would have seen. It is deterministic for a
// given Config (Seed included).
func Simulate(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := newSim(cfg)
	if err := m.run(ctx); err != nil {
		return nil, err
	}
	return m.res, nil
}

func newSim(cfg Config) *sim {
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = 100 * time.Millisecond
	}
	if cfg.KeepSeries == 0 {
		cfg.KeepSeries = 64
	}
	if cfg.MaxSimTime <= 0 {
		cfg.MaxSimTime = time.Hour
	}
	m := &sim{
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(cfg.Seed, 0x1aa5bec4)),
		half:     cfg.Overhead.Seconds() / 2,
		maxRows:  math.MaxInt32,
		delay:    cfg.MaxQueueDelay.Seconds(),
		maxQueue: cfg.MaxQueueSize,
		res:      &Result{Latency: hist.New()},
	}
	if cfg.MaxBatchSize > 0 {
		m.maxRows = cfg.MaxBatchSize
	}
	for _, o := range cfg.OverheadQuantiles {
		m.ovhQ = append(m.ovhQ, max(o.Seconds(), 0)/2)
	}
	slices.Sort(m.ovhQ)
	// Sorted by excess; a host keeps its increments per busy device in
	// the same order.
	idx := make([]int, len(cfg.ServiceExcess))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(cfg.ServiceExcess[a], cfg.ServiceExcess[b]) })
	for _, i := range idx {
		m.excessQ = append(m.excessQ, cfg.ServiceExcess[i].Seconds())
	}
	if cfg.Host != nil {
		m.host = newHost(cfg.Host, idx)
	}
	if m.maxQueue <= 0 {
		m.maxQueue = DefaultMaxQueue
	}
	m.target = m.maxRows
	if len(cfg.PreferredBatchSizes) > 0 {
		m.target = slices.Max(cfg.PreferredBatchSizes)
	}

	// Placement as Triton's: per server, `instances` instances on each GPU
	// in GPU order; without GPUs each instance gets a private executor.
	m.servers = make([]serverState, cfg.Servers)
	for s := range m.servers {
		sv := &m.servers[s]
		sv.carry = -1
		sv.firstInst = int32(len(m.insts))
		groups := max(cfg.GPUs, 1)
		for g := 0; g < groups; g++ {
			var gpuDev int32 = -1
			if cfg.GPUs > 0 {
				gpuDev = int32(len(m.devs))
				m.gpuIdx = append(m.gpuIdx, gpuDev)
				m.devs = append(m.devs, devState{gpu: true, cur: -1})
			}
			for i := 0; i < cfg.Instances; i++ {
				d := gpuDev
				if d < 0 {
					d = int32(len(m.devs))
					m.devs = append(m.devs, devState{cur: -1})
				}
				id := int32(len(m.insts))
				m.insts = append(m.insts, instState{server: int32(s), dev: d})
				sv.free.push(id)
			}
		}
		sv.nInst = int32(len(m.insts)) - sv.firstInst
	}

	// Clients are numbered server-major; client j of a server starts the
	// server's j-th sequence, so sequences spread round-robin over slots.
	n := cfg.Servers * cfg.Clients
	m.clients = make([]clientState, n)
	// A data budget of DataSeconds·r requests is split as package measure
	// splits it: evenly, the first clients taking one more of the rest.
	total := int64(-1)
	if cfg.DataSeconds > 0 {
		total = max(1, int64(math.Round(cfg.DataSeconds*cfg.Rate)))
	}
	for i := range m.clients {
		c := &m.clients[i]
		c.server = int32(i / cfg.Clients)
		c.inst = -1
		c.left = -1
		if total > 0 {
			// measure numbers clients round-robin over servers.
			idx := int64(i%cfg.Clients)*int64(cfg.Servers) + int64(i/cfg.Clients)
			c.left = total / int64(n)
			if idx < total%int64(n) {
				c.left++
			}
		}
		if cfg.Sequence {
			sv := &m.servers[c.server]
			c.inst = sv.firstInst + sv.nextSlot%sv.nInst
			sv.nextSlot++
		}
	}
	return m
}

func (m *sim) run(ctx context.Context) error {
	cfg := m.cfg
	limit := cfg.MaxSimTime.Seconds()
	if cfg.DataSeconds > 0 {
		m.wStart, m.wEnd = 0, math.Inf(1)
	} else {
		m.wStart = cfg.Warmup.Seconds()
		m.wEnd = m.wStart + cfg.Duration.Seconds()
		if cfg.Duration <= 0 {
			m.wEnd = math.Inf(1) // ends after cfg.Requests responses
		}
	}
	if m.wStart > limit {
		return fmt.Errorf("warm-up %v exceeds the simulated-time limit %v", cfg.Warmup, cfg.MaxSimTime)
	}
	// The window's start and end are scheduled first so that at equal
	// times they run before anything else: the window is [start, end).
	m.q.push(m.wStart, evMeasure, 0, 0)
	if !math.IsInf(m.wEnd, 1) {
		m.q.push(min(m.wEnd, limit), evEnd, 0, 0)
	} else {
		m.q.push(limit, evEnd, 0, 0)
	}
	m.startClients()

	var events int64
	for m.q.len() > 0 && !m.done {
		e := m.q.next()
		m.now = e.t
		events++
		if events&0xffff == 0 && ctx.Err() != nil {
			return fmt.Errorf("simulation interrupted at %.3fs simulated: %w", m.now, ctx.Err())
		}
		switch e.kind {
		case evArrive:
			m.arrive(e.a)
		case evDeviceDone:
			m.deviceDone(e.a)
		case evDeadline:
			m.deadline(e.a, e.b)
		case evRespond:
			m.respond(e.a)
		case evOpenSend:
			m.openSend(e.a)
		case evFrame:
			m.frame(int64(e.b))
		case evCPUDone:
			m.cpuDone(e.a)
		case evDeviceSpin:
			m.hostSpin(e.a, e.b)
		case evMeasure:
			m.startMeasuring()
		case evSample:
			m.sample()
		case evEnd:
			if m.now < m.wEnd {
				m.res.Incomplete = fmt.Sprintf("stopped at the simulated-time limit %v before the measurement was complete", cfg.MaxSimTime)
			}
			m.end()
		case evRetry:
			m.send(e.a, m.now)
		}
	}
	m.res.Events = events
	m.res.SimulatedS = m.now
	if !m.done {
		// Only a data budget ends by running out of events.
		m.end()
	}
	if m.res.DurationS <= 0 {
		return fmt.Errorf("measured window is empty (simulated %.3fs)", m.now)
	}
	return nil
}

// startClients schedules every client's first requests.
func (m *sim) startClients() {
	cfg := m.cfg
	n := len(m.clients)
	switch cfg.Mode {
	case workload.ModeClosed:
		conc := cfg.Concurrency
		if cfg.DataSeconds > 0 || conc < 1 {
			conc = 1 // a data budget is worked through one request at a time per stream
		}
		for i := range m.clients {
			for k := 0; k < conc; k++ {
				m.send(int32(i), 0)
			}
		}
	case workload.ModeOpen:
		switch cfg.Arrival {
		case workload.ArrivalFrames:
			m.q.push(0, evFrame, 0, 0)
		case workload.ArrivalPoisson:
			// n independent Poisson streams of rate r are one Poisson
			// stream of rate n·r whose arrivals belong to a uniformly
			// random client: one event in the heap instead of n.
			m.q.push(m.rng.ExpFloat64()/(float64(n)*cfg.Rate), evOpenSend, int32(m.rng.IntN(n)), 0)
		default:
			// Constant rate, clients evenly staggered over one period so
			// that n clients at rate r are one source at n·r visiting the
			// clients in turn: one event in the heap instead of n.
			m.q.push(0, evOpenSend, 0, 0)
		}
	}
}

func (m *sim) newRequest(client int32, t float64) int32 {
	var id int32
	if k := len(m.freeReqs); k > 0 {
		id = m.freeReqs[k-1]
		m.freeReqs = m.freeReqs[:k-1]
	} else {
		id = int32(len(m.reqs))
		m.reqs = append(m.reqs, request{})
	}
	h := m.half
	if len(m.ovhQ) > 0 {
		h = drawQuantile(m.ovhQ, m.rng.Float64())
	}
	m.reqs[id] = request{client: client, rows: int32(m.cfg.BatchSize), half: h, sent: t}
	return id
}

// send starts a request of client c at time t (now).
func (m *sim) send(c int32, t float64) {
	cl := &m.clients[c]
	if cl.left == 0 {
		return
	}
	if cl.left > 0 {
		cl.left--
	}
	r := m.newRequest(c, t)
	m.inflight++
	if m.host != nil {
		m.hostTrip(r, jobSend)
		return
	}
	m.after(m.reqs[r].half, evArrive, r, 0)
}

func (m *sim) openSend(c int32) {
	cfg := m.cfg
	n := len(m.clients)
	m.send(c, m.now)
	var next float64
	if cfg.Arrival == workload.ArrivalPoisson {
		next = m.now + m.rng.ExpFloat64()/(float64(n)*cfg.Rate)
		c = int32(m.rng.IntN(n))
	} else {
		// Send k of the source: client k mod n, period k div n. Computed
		// from k, not by adding intervals, so that no drift accumulates.
		m.sent++
		c = int32(m.sent % int64(n))
		next = (float64(m.sent/int64(n)) + float64(c)/float64(n)) / cfg.Rate
	}
	if next < m.wEnd {
		m.q.push(next, evOpenSend, c, 0)
	}
}

// frame releases frame k: data arrives in 1 s frames, so at each second
// boundary every client has the frame's r requests at once.
func (m *sim) frame(k int64) {
	r := m.cfg.Rate
	n := int(math.Floor(float64(k+1)*r+1e-9) - math.Floor(float64(k)*r+1e-9))
	for c := range m.clients {
		for i := 0; i < n; i++ {
			m.send(int32(c), m.now)
		}
	}
	if next := float64(k + 1); next < m.wEnd {
		m.q.push(next, evFrame, 0, int32(k+1))
	}
}

// after schedules an overhead trip of d from now. With a constant
// overhead such trips (d is the constant half) end in the order they
// start, so they take the event queue's delay line instead of its heap.
func (m *sim) after(d float64, kind uint8, a, b int32) {
	if m.ovhQ == nil && d == m.half {
		m.q.pushLine(m.now+d, kind, a, b)
		return
	}
	m.q.push(m.now+d, kind, a, b)
}

// arrive admits request r at its server and routes it to the scheduler
// the model uses.
func (m *sim) arrive(r int32) {
	rq := &m.reqs[r]
	rq.arrive = m.now
	cl := &m.clients[rq.client]
	sv := &m.servers[cl.server]
	if sv.waiting >= m.maxQueue {
		rq.rejected = true
		m.reply(r)
		return
	}
	switch {
	case m.cfg.Sequence:
		in := &m.insts[cl.inst]
		if in.busy {
			in.seqQ.push(r)
			sv.waiting++
			return
		}
		m.execute(cl.inst, r)
	case m.cfg.DynamicBatching:
		sv.queue.push(r)
		sv.waiting++
		if sv.gathering {
			m.gatherMore(cl.server)
			return
		}
		m.batcher(cl.server)
	default:
		if sv.free.len() > 0 {
			m.execute(sv.free.pop(), r)
			return
		}
		sv.queue.push(r)
		sv.waiting++
	}
}

// execute hands a one-request batch to instance i.
func (m *sim) execute(i int32, r int32) {
	in := &m.insts[i]
	in.batch = append(in.batch[:0], r)
	in.rows = int(m.reqs[r].rows)
	m.dispatch(i)
}

// dispatch starts instance i's batch: it takes the device or waits for it.
func (m *sim) dispatch(i int32) {
	in := &m.insts[i]
	in.busy = true
	for _, r := range in.batch {
		m.reqs[r].dispatch = m.now
	}
	d := &m.devs[in.dev]
	if d.busy {
		d.wait.push(i)
		return
	}
	m.startCall(in.dev, i)
}

// startCall gives the device to instance i's batch. A device on the host
// counts as busy (as the server's device lock is held) while the call
// waits for a core.
func (m *sim) startCall(d, i int32) {
	dv := &m.devs[d]
	if !dv.busy && dv.gpu {
		m.busyGPUs++
	}
	dv.busy, dv.cur, dv.since = true, i, m.now
	svc := m.serviceTime(m.insts[i].rows)
	if m.host != nil && m.hostCall(d, svc) {
		return
	}
	m.q.push(m.now+svc, evDeviceDone, d, 0)
}

func (m *sim) serviceTime(rows int) float64 {
	s := m.cfg.ServiceTime(rows).Seconds()
	if q := m.excessQ; len(q) > 0 {
		u := m.rng.Float64()
		e := drawQuantile(q, u)
		if k := m.busyGPUs - 1; k > 0 && m.host != nil {
			e += m.hostExcess(k, u)
		}
		s = max(s+e, 0)
	} else if o := m.cfg.Overshoot; o > 0 {
		s += m.rng.ExpFloat64() * o.Seconds()
	}
	if m.cfg.ExponentialService {
		s *= m.rng.ExpFloat64()
	}
	if j := m.cfg.Jitter; j > 0 {
		s *= 1 + j*(2*m.rng.Float64()-1)
	}
	return s
}

// drawQuantile turns u in [0, 1) into a draw from the distribution whose
// equally likely values, sorted, are q (value k at quantile (k+½)/n): it
// interpolates linearly between neighbours, so a tail quantile such as
// p99 falls between fitted values rather than jumping from one to the
// next.
func drawQuantile(q []float64, u float64) float64 {
	x := u*float64(len(q)) - 0.5
	if x <= 0 {
		return q[0]
	}
	k := int(x)
	if k >= len(q)-1 {
		return q[len(q)-1]
	}
	f := x - float64(k)
	return q[k] + f*(q[k+1]-q[k])
}

func (m *sim) deviceDone(d int32) {
	dv := &m.devs[d]
	dv.busyAcc += m.now - dv.since
	i := dv.cur
	in := &m.insts[i]
	if m.measuring {
		m.res.Executions++
		m.res.ExecRows += int64(in.rows)
	}
	if m.host != nil && m.hostHandoff(d, i) {
		return
	}
	// Answer before freeing the instance, as the embedded server does.
	for _, r := range in.batch {
		m.reqs[r].finished = m.now
		m.reply(r)
	}
	m.deviceRelease(d)
}

// deviceRelease frees device d and its current instance for the next call.
func (m *sim) deviceRelease(d int32) {
	dv := &m.devs[d]
	dv.handoff = false
	i := dv.cur
	in := &m.insts[i]
	in.batch = in.batch[:0]
	in.busy = false
	if dv.wait.len() > 0 {
		m.startCall(d, dv.wait.pop())
	} else {
		if dv.gpu {
			m.busyGPUs--
		}
		dv.busy, dv.cur = false, -1
	}
	m.instanceFree(i)
}

func (m *sim) instanceFree(i int32) {
	in := &m.insts[i]
	sv := &m.servers[in.server]
	switch {
	case m.cfg.Sequence:
		if in.seqQ.len() > 0 {
			sv.waiting--
			m.execute(i, in.seqQ.pop())
		}
	case m.cfg.DynamicBatching:
		sv.free.push(i)
		m.batcher(in.server)
	default:
		if sv.queue.len() > 0 {
			sv.waiting--
			m.execute(i, sv.queue.pop())
			return
		}
		sv.free.push(i)
	}
}

// batcher forms batches as Triton's dynamic batcher (and the embedded
// server's) does: when an instance is free, take what is queued up to
// max_batch_size; short of the preferred size, wait for more until the
// oldest request has waited max_queue_delay.
func (m *sim) batcher(s int32) {
	sv := &m.servers[s]
	for !sv.gathering && sv.free.len() > 0 && (sv.carry >= 0 || sv.queue.len() > 0) {
		i := sv.free.pop()
		in := &m.insts[i]
		var first int32
		if sv.carry >= 0 {
			first, sv.carry = sv.carry, -1
		} else {
			first = sv.queue.pop()
		}
		in.batch = append(in.batch[:0], first)
		in.rows = int(m.reqs[first].rows)
		full := m.take(sv, in)
		deadline := m.reqs[first].arrive + m.delay
		if !full && m.shouldWait(in.rows) && deadline > m.now {
			sv.gathering, sv.gInst = true, i
			sv.token++
			m.q.push(deadline, evDeadline, s, sv.token)
			return
		}
		m.launch(sv, i)
	}
}

// take moves queued requests into in's batch up to the target size. It
// reports true when a request did not fit under max_batch_size: that
// request is carried to the next batch and this one must go now.
func (m *sim) take(sv *serverState, in *instState) bool {
	for in.rows < m.target && sv.queue.len() > 0 {
		r := sv.queue.pop()
		rows := int(m.reqs[r].rows)
		if in.rows+rows > m.maxRows {
			sv.carry = r
			return true
		}
		in.batch = append(in.batch, r)
		in.rows += rows
	}
	return false
}

func (m *sim) shouldWait(rows int) bool {
	return rows < m.target && m.delay > 0 && !slices.Contains(m.cfg.PreferredBatchSizes, rows)
}

// gatherMore adds a newly queued request to the batch being gathered.
func (m *sim) gatherMore(s int32) {
	sv := &m.servers[s]
	in := &m.insts[sv.gInst]
	if m.take(sv, in) || !m.shouldWait(in.rows) {
		sv.gathering = false
		m.launch(sv, sv.gInst)
		m.batcher(s)
	}
}

func (m *sim) deadline(s, token int32) {
	sv := &m.servers[s]
	if !sv.gathering || sv.token != token {
		return
	}
	sv.gathering = false
	m.launch(sv, sv.gInst)
	m.batcher(s)
}

func (m *sim) launch(sv *serverState, i int32) {
	sv.waiting -= len(m.insts[i].batch)
	m.dispatch(i)
}

// reply sends r's response back through the overhead.
func (m *sim) reply(r int32) {
	if m.host != nil {
		m.hostTrip(r, jobReply)
		return
	}
	m.after(m.reqs[r].half, evRespond, r, 0)
}

// respond: the response of r reaches its client.
func (m *sim) respond(r int32) {
	rq := m.reqs[r]
	m.freeReqs = append(m.freeReqs, r)
	m.inflight--
	if m.host != nil {
		m.hostBackground()
	}
	if m.measuring {
		m.record(&rq)
	}
	if m.done {
		return
	}
	if m.cfg.Mode == workload.ModeClosed {
		if rq.rejected {
			// A rejected client backs off rather than spinning on a full
			// queue (which with no overhead would never advance time).
			m.q.push(m.now+retryBackoff, evRetry, rq.client, 0)
		} else {
			m.send(rq.client, m.now)
		}
	}
	if m.cfg.DataSeconds > 0 && m.inflight == 0 {
		m.end() // the whole data budget is processed
	}
}

func (m *sim) record(rq *request) {
	res := m.res
	if rq.rejected {
		res.Errors++
		return
	}
	ns := int64(math.Round((m.now - rq.sent) * 1e9))
	res.Latency.Record(ns)
	res.Requests++
	res.Inferences += int64(rq.rows)
	res.QueueS += rq.dispatch - rq.arrive
	res.InferS += rq.finished - rq.dispatch
	if m.winHist != nil {
		w := int((m.now - m.wStart) / m.cfg.Window.Seconds())
		if w >= 0 && w < len(m.winHist) {
			m.winHist[w].Record(ns)
			m.winCount[w]++
			m.winRows[w] += int64(rq.rows)
		}
	}
	if m.cfg.Requests > 0 && res.Requests >= int64(m.cfg.Requests) {
		m.end()
	}
}

func (m *sim) startMeasuring() {
	m.measuring = true
	cfg := m.cfg
	if m.host != nil {
		m.hostStartMeasuring()
	}
	for d := range m.devs {
		b := m.busyAt(int32(d))
		m.devs[d].measBase, m.devs[d].lastBusy = b, b
	}
	if cfg.DataSeconds <= 0 && cfg.Duration > 0 && cfg.Window > 0 {
		n := int(math.Ceil(cfg.Duration.Seconds()/cfg.Window.Seconds() - 1e-9))
		if n >= 1 && n <= 1000 {
			m.winHist = make([]*hist.Histogram, n)
			for i := range m.winHist {
				m.winHist[i] = hist.New()
			}
			m.winCount = make([]int64, n)
			m.winRows = make([]int64, n)
		}
	}
	if len(m.gpuIdx) > 0 {
		if len(m.gpuIdx) <= cfg.KeepSeries {
			m.series = make([][]float64, len(m.gpuIdx))
		} else {
			m.res.SeriesNotes = append(m.res.SeriesNotes, fmt.Sprintf(
				"%d simulated GPUs: per-GPU utilisation series left out (more than %d); the summaries cover every GPU",
				len(m.gpuIdx), cfg.KeepSeries))
		}
		m.q.push(m.now+cfg.SampleInterval.Seconds(), evSample, 0, 0)
	}
}

func (m *sim) busyAt(d int32) float64 {
	dv := &m.devs[d]
	b := dv.busyAcc
	if dv.busy && !dv.handoff {
		b += m.now - dv.since
	}
	return b
}

func (m *sim) sample() {
	if m.done {
		return
	}
	dt := m.cfg.SampleInterval.Seconds()
	m.seriesT = append(m.seriesT, m.now-m.wStart)
	for k, d := range m.gpuIdx {
		b := m.busyAt(d)
		u := min((b-m.devs[d].lastBusy)/dt, 1)
		m.devs[d].lastBusy = b
		m.res.GPUUtilMax = max(m.res.GPUUtilMax, u)
		if m.series != nil {
			m.series[k] = append(m.series[k], 100*u)
		}
	}
	if next := m.now + dt; next <= m.wEnd+1e-12 {
		m.q.push(next, evSample, 0, 0)
	}
}

// end closes the measured window.
func (m *sim) end() {
	if m.done {
		return
	}
	m.done = true
	res := m.res
	res.DurationS = m.now - m.wStart
	if m.now == m.wEnd {
		res.DurationS = m.cfg.Duration.Seconds() // exact, not warm-up + duration − warm-up
	}
	if !m.measuring || res.DurationS <= 0 {
		res.DurationS = 0
		return
	}
	for _, d := range m.gpuIdx {
		res.GPUUtil = append(res.GPUUtil, min((m.busyAt(d)-m.devs[d].measBase)/res.DurationS, 1))
	}
	if m.host != nil {
		res.HostCPUUtil = m.hostUtil(res.DurationS)
	}
	if len(m.seriesT) == 0 {
		// A window shorter than one sample period: its mean is the sample.
		for _, u := range res.GPUUtil {
			res.GPUUtilMax = max(res.GPUUtilMax, u)
		}
	}
	perServer := max(m.cfg.GPUs, 1)
	for k, v := range m.series {
		res.Series = append(res.Series, results.Series{
			Name: "gpu_util_pct", Unit: "%",
			Labels: map[string]string{
				"gpu":    fmt.Sprint(k % perServer),
				"server": fmt.Sprint(k / perServer),
				"source": "simulated",
			},
			T: m.seriesT, V: v,
		})
	}
	if m.winHist != nil {
		w := m.cfg.Window.Seconds()
		for i, h := range m.winHist {
			start := float64(i) * w
			d := min(w, res.DurationS-start)
			if d <= 1e-12 {
				break
			}
			res.Windows = append(res.Windows, results.Window{
				StartS: start, DurationS: d,
				ThroughputIPS: float64(m.winRows[i]) / d,
				P99US:         float64(h.Quantile(0.99)) / 1e3,
			})
		}
	}
}
