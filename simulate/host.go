package simulate

// This file is the simulator's model of one machine that runs clients and
// servers together, as an embedded sweep on a development machine does:
// the type (HostModel), what it does to a run (the shared cores), and how
// Validate fits it from an embedded sweep. It is the least transferable
// part of the simulator: a GPU server has no HostModel (nil), and the
// queueing core (sim.go) reaches it only through the m.host* methods here.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/internal/stats"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// HostModel is a machine whose cores every client and server share (an
// embedded sweep: load generator, servers and emulated GPUs in one
// process). Each request's overhead becomes CPU work on Cores cores
// shared as an operating system shares them (processor sharing: n
// running jobs each progress at min(1, Cores/n) of a core), so the host,
// not the devices, can cap throughput. The other fields model iaasbench's
// embedded server on that machine; CalibrateHost and Validate (FitHost)
// fit them from an embedded sweep.
type HostModel struct {
	// Cores is the size of the pool (at least 1).
	Cores int
	// CPUOverheadCap bounds the CPU work of a request's overhead: of each
	// draw, up to this much is CPU work and the rest is waiting that
	// holds no core (an empirical distribution's tail on a busy host is
	// preemption and late wake-ups, not work). 0: all of it is CPU work.
	CPUOverheadCap time.Duration
	// DeviceOnHost makes each call also hold a core for its service time
	// (waiting for one if none is free), as an emulated GPU does (it runs
	// the model on the CPU and spins to its deadline) and a CPU instance
	// does.
	DeviceOnHost bool
	// DeviceCPU, with DeviceOnHost, is the most of a call that is CPU
	// work: the embedded server's device sleeps through a long call and
	// spins only its last stretch (server.EmulatedGPUSpin, passed in by
	// the caller). 0: the whole call is CPU work.
	DeviceCPU time.Duration
	// BackgroundCPU is CPU work per request that no request waits for (Go
	// runtime and GC, transport goroutines, on a shared machine other
	// processes' share): queued on the cores when a response reaches its
	// client.
	BackgroundCPU time.Duration
	// HandoffAfterReply frees a device (and its instance) for the next
	// request only when the finished request's reply has had its CPU
	// work: the embedded server runs a call on the request's handler
	// goroutine, which sends the response before the waiter it woke gets
	// to run on a busy host. It applies to one-request calls (no dynamic
	// batching).
	HandoffAfterReply bool
	// ExcessPerBusyDevice, when given (as long as Config.ServiceExcess),
	// adds to a call's drawn excess, quantile for quantile, this much for
	// every other GPU busy when the call starts: emulated devices that
	// share the cores wake later the more of them run.
	ExcessPerBusyDevice []time.Duration
}

// validate checks h for the Config c it belongs to.
func (h *HostModel) validate(c *Config) error {
	switch {
	case h.Cores < 1:
		return fmt.Errorf("host cores must be at least 1, got %d", h.Cores)
	case h.CPUOverheadCap < 0:
		return fmt.Errorf("host CPU overhead cap must not be negative, got %v", h.CPUOverheadCap)
	case h.BackgroundCPU < 0:
		return fmt.Errorf("host background CPU must not be negative, got %v", h.BackgroundCPU)
	case h.DeviceCPU < 0:
		return fmt.Errorf("host device CPU must not be negative, got %v", h.DeviceCPU)
	case len(h.ExcessPerBusyDevice) > 0 && len(h.ExcessPerBusyDevice) != len(c.ServiceExcess):
		return fmt.Errorf("excess per busy device: %d values for %d service excesses", len(h.ExcessPerBusyDevice), len(c.ServiceExcess))
	}
	return nil
}

// cores is the pool's size, 0 without a host.
func (h *HostModel) cores() int {
	if h == nil {
		return 0
	}
	return h.Cores
}

// describe completes a simulated record's server description.
func (h *HostModel) describe() string {
	if h == nil {
		return ""
	}
	var s string
	if h.CPUOverheadCap > 0 {
		s += fmt.Sprintf(", overhead CPU capped at %gus", float64(h.CPUOverheadCap)/1e3)
	}
	if h.DeviceOnHost {
		s += ", device calls on host cores"
		if h.DeviceCPU > 0 {
			s += fmt.Sprintf(" (at most their last %gus)", float64(h.DeviceCPU)/1e3)
		}
	}
	if h.BackgroundCPU > 0 {
		s += fmt.Sprintf(", background CPU %gus per request", float64(h.BackgroundCPU)/1e3)
	}
	return s
}

// identity is what of h, beyond its cores, names a simulated sweep (with
// the device excess, which only a host fit sets); "" for a plain pool, so
// that the IDs of sweeps simulated on one keep what they were.
func (h *HostModel) identity(o Options) string {
	if h == nil || !(h.CPUOverheadCap > 0 || h.DeviceOnHost || h.BackgroundCPU > 0) {
		return ""
	}
	s := fmt.Sprint(h.CPUOverheadCap, h.DeviceOnHost, h.DeviceCPU, h.BackgroundCPU, o.Overshoot, o.ServiceExcess)
	if len(h.ExcessPerBusyDevice) > 0 {
		s += fmt.Sprint("per busy device", h.ExcessPerBusyDevice)
	}
	return s
}

// host is a HostModel at run time: the pool of cores. All running jobs
// progress at the same rate, so it keeps one virtual clock v, the work
// each running job has done since the start, and the jobs in a heap by
// the value of v at which they finish; only the first one's finish is
// scheduled, and rescheduled (under a new token) whenever a job starts or
// finishes, since either changes the rate. A job is a request's overhead
// on the way in or out, a device call, or background work.
type host struct {
	HostModel
	ncores   float64    // Cores
	v        float64    // virtual time: work per running job so far
	at       float64    // simulated time v was brought up to
	jobs     eventQueue // running jobs: t = v at which they finish, a = job
	token    int32      // the current finish event; older ones are stale
	busy     float64    // core-seconds worked so far
	busyBase float64    // busy at the start of the measured window
	handling bool       // finishes are being handled: reschedule once, after
	cpuHalf  float64    // CPUOverheadCap/2 in seconds; +Inf when uncapped
	bgCPU    float64    // BackgroundCPU in seconds
	// excessPerBusy is ExcessPerBusyDevice in seconds, in the order of
	// the core's sorted excesses.
	excessPerBusy []float64
}

// newHost starts the pool of h; order sorts Config.ServiceExcess.
func newHost(h *HostModel, order []int) *host {
	hs := &host{HostModel: *h, ncores: float64(h.Cores), cpuHalf: math.Inf(1), bgCPU: h.BackgroundCPU.Seconds()}
	if h.CPUOverheadCap > 0 {
		hs.cpuHalf = h.CPUOverheadCap.Seconds() / 2
	}
	if len(h.ExcessPerBusyDevice) > 0 {
		for _, i := range order {
			hs.excessPerBusy = append(hs.excessPerBusy, h.ExcessPerBusyDevice[i].Seconds())
		}
	}
	return hs
}

// Host jobs: id<<2 | kind.
const (
	jobSend       = 0 // request id: the CPU work of its overhead on the way in
	jobReply      = 1 // request id: the same on the way out
	jobBackground = 2 // no id: BackgroundCPU of one request
	jobCall       = 3 // device id: its current call (DeviceOnHost)
)

// hostSlack absorbs rounding in the virtual clock: a job within it of its
// work is done.
const hostSlack = 1e-12

func (h *host) rate() float64 {
	n := float64(len(h.jobs.ev))
	if n <= h.ncores {
		return 1
	}
	return h.ncores / n
}

// hostAdvance brings the virtual clock up to now.
func (m *sim) hostAdvance() {
	h := m.host
	if n := float64(len(h.jobs.ev)); n > 0 {
		h.v += (m.now - h.at) * h.rate()
		h.busy += (m.now - h.at) * min(n, h.ncores)
	}
	h.at = m.now
}

// hostSchedule schedules the first finish at the current rate.
func (m *sim) hostSchedule() {
	h := m.host
	h.token++
	if len(h.jobs.ev) == 0 {
		return
	}
	left := math.Max(h.jobs.ev[0].t-h.v, 0)
	m.q.push(m.now+left/h.rate(), evCPUDone, h.token, 0)
}

// cpuSubmit starts host job x of work seconds of CPU.
func (m *sim) cpuSubmit(x int32, work float64) {
	m.hostAdvance()
	m.host.jobs.push(m.host.v+work, 0, x, 0)
	if !m.host.handling {
		m.hostSchedule()
	}
}

// cpuDone handles the jobs that have finished by now, if token is the
// host's current one.
func (m *sim) cpuDone(token int32) {
	h := m.host
	if token != h.token {
		return
	}
	m.hostAdvance()
	h.handling = true
	for len(h.jobs.ev) > 0 && h.jobs.ev[0].t <= h.v+hostSlack {
		m.jobDone(h.jobs.pop().a)
	}
	h.handling = false
	m.hostSchedule()
}

func (m *sim) jobDone(x int32) {
	id, kind := x>>2, x&3
	switch kind {
	case jobBackground:
	case jobCall:
		m.deviceDone(id)
	default:
		// What is left of the half trip beyond its CPU work is waiting.
		ev := evArrive
		if kind == jobReply {
			ev = evRespond
		}
		rq := &m.reqs[id]
		if h := rq.holds; kind == jobReply && h > 0 {
			rq.holds = 0
			m.deviceRelease(h - 1)
		}
		if w := rq.half - min(rq.half, m.host.cpuHalf); w > 0 {
			m.q.push(m.now+w, ev, id, 0)
		} else if kind == jobSend {
			m.arrive(id)
		} else {
			m.respond(id)
		}
	}
}

// hostTrip starts request r's half trip (jobSend or jobReply) as CPU
// work on the pool: up to the cap of it, the rest waiting after.
func (m *sim) hostTrip(r int32, kind int32) {
	m.cpuSubmit(r<<2|kind, min(m.reqs[r].half, m.host.cpuHalf))
}

// hostCall runs device d's call of svc seconds on the pool, if the
// devices are on the host (DeviceOnHost); it reports whether it did. A
// device that sleeps through a long call (DeviceCPU) spins only its
// last stretch on a core.
func (m *sim) hostCall(d int32, svc float64) bool {
	if !m.host.DeviceOnHost {
		return false
	}
	if cpu := m.host.DeviceCPU.Seconds(); cpu > 0 && svc > cpu {
		m.q.push(m.now+svc-cpu, evDeviceSpin, d, int32(m.host.DeviceCPU))
		return true
	}
	m.cpuSubmit(d<<2|jobCall, svc)
	return true
}

// hostSpin: device d stops sleeping and spins its last ns nanoseconds.
func (m *sim) hostSpin(d, ns int32) { m.cpuSubmit(d<<2|jobCall, float64(ns)/1e9) }

// hostHandoff, with HandoffAfterReply, keeps device d (running
// instance i's one-request call) until the reply's CPU work is done, and
// sends the reply; it reports whether it did.
func (m *sim) hostHandoff(d, i int32) bool {
	in := &m.insts[i]
	if !m.host.HandoffAfterReply || m.cfg.DynamicBatching || len(in.batch) != 1 {
		return false
	}
	r := in.batch[0]
	m.devs[d].handoff = true
	m.reqs[r].finished = m.now
	m.reqs[r].holds = d + 1
	m.reply(r)
	return true
}

// hostBackground queues one request's background work.
func (m *sim) hostBackground() {
	if m.host.bgCPU > 0 {
		m.cpuSubmit(jobBackground, m.host.bgCPU)
	}
}

// hostExcess is what a call's excess at quantile u grows by when busy
// other GPUs are busy (ExcessPerBusyDevice).
func (m *sim) hostExcess(busy int, u float64) float64 {
	if len(m.host.excessPerBusy) == 0 {
		return 0
	}
	return float64(busy) * drawQuantile(m.host.excessPerBusy, u)
}

// hostStartMeasuring marks the start of the measured window.
func (m *sim) hostStartMeasuring() {
	m.hostAdvance()
	m.host.busyBase = m.host.busy
}

// hostUtil is the busy fraction of the cores over a window of d seconds
// ending now.
func (m *sim) hostUtil(d float64) float64 {
	m.hostAdvance()
	return min((m.host.busy-m.host.busyBase)/(m.host.ncores*d), 1)
}

// writeHost says, for Validation.WriteFits, what the host fit found.
func (v *Validation) writeHost(b *strings.Builder, source string) {
	o := v.Options
	capText := ""
	if c := o.Host.CPUOverheadCap; c > 0 {
		capText = fmt.Sprintf(" (overhead CPU capped at %.1f µs, its tail waiting)", us(c))
	}
	fmt.Fprintf(b, "host: embedded target, so %d cores shared by clients, servers and device calls%s, fitted from %s: %s\n",
		v.Host.Cores, capText, source, v.Host.How)
	switch {
	case len(o.ServiceExcess) > 0:
		q := o.ServiceExcess
		fmt.Fprintf(b, "device calls: each adds an excess over the profile drawn from the calls recorded at one request in flight (median %.1f µs, p99 %.1f µs)",
			us(q[len(q)/2]), us(q[len(q)*99/100]))
		if p := o.Host.ExcessPerBusyDevice; len(p) > 0 {
			fmt.Fprintf(b, ", plus per further GPU busy on the host %+.1f µs at the median, %+.1f µs at p99 (fitted from every point's recorded calls)",
				us(p[len(p)/2]), us(p[len(p)*99/100]))
		}
		b.WriteString("\n")
	case o.Overshoot > 0:
		fmt.Fprintf(b, "device calls: no calls recorded in %s; each adds an exponential excess of mean %.1f µs (the servers' compute time over the profile)\n",
			source, us(o.Overshoot))
	}
}

// HostCalibration is a model of the host fitted from a sweep that ran
// its clients and servers on one machine (an embedded target).
type HostCalibration struct {
	// Cores is the pool the model shares: the measuring machine's
	// (Env.CPUs) unless given.
	Cores int
	// CPUPerRequest is the host CPU time per request at the busiest
	// points: host cpu_util × the machine's cores / requests per second
	// (median over them).
	CPUPerRequest time.Duration
	// OverheadCPU and DeviceCPU are the parts of it on each request's
	// path: the CPU work of its overhead, and its share of the device
	// calls, which run on the host's CPU (an emulated GPU computes the
	// model and spins to its deadline).
	OverheadCPU, DeviceCPU time.Duration
	// Background is the rest (HostModel.BackgroundCPU): work no request
	// waits for — Go's runtime, transport goroutines and, on a shared
	// machine, other processes.
	Background time.Duration
	// From are the busiest points it was fitted on.
	From []results.Point
	How  string
}

// CalibrateHost fits the host CPU model of a sweep whose clients and
// servers shared one machine. At the points with the most requests in
// flight the host is busiest; there its CPU time per request is
// cpu_util_mean_pct/100 × Env.CPUs / throughput_rps (whole machine, so on
// a shared machine other processes' share is charged to the requests, as
// it was taken from them). Of that, overheadCPU (the CPU work of one
// request's overhead) and, with deviceOnHost, the device calls (the
// profile's service time of a call × calls per request, from the
// server's execution counts) lie on each request's path; the rest is
// background work. cores ≤ 0 takes the measuring machine's core count.
func CalibrateHost(measured []results.Record, s *scenarios.Scenario, cores int, overheadCPU time.Duration, service func(rows int) time.Duration, deviceOnHost bool) (HostCalibration, error) {
	machine := 0
	if h := results.HeaderOf(measured); h != nil {
		machine = h.Env.CPUs
	}
	best := -1.0
	var busiest []results.Record
	for _, r := range measured {
		m := r.Measurement
		if r.Kind == results.KindHeader || r.Status != results.StatusOK || m == nil || m.Telemetry == nil || m.Telemetry.CPUUtilMean <= 0 || m.ThroughputRPS <= 0 {
			continue
		}
		switch load := offeredLoad(r.Point, s); {
		case load > best:
			best, busiest = load, []results.Record{r}
		case load == best:
			busiest = append(busiest, r)
		}
	}
	if len(busiest) == 0 {
		return HostCalibration{}, errors.New("cannot fit the host's CPU: no measured point with host CPU utilisation (telemetry cpu_util_mean_pct) and throughput")
	}
	var perReq, dev []float64
	cal := HostCalibration{OverheadCPU: overheadCPU}
	for _, r := range busiest {
		n := machine
		if r.Env != nil && r.Env.CPUs > 0 {
			n = r.Env.CPUs
		}
		if n <= 0 {
			return HostCalibration{}, fmt.Errorf("point %s: the record and its header name no CPU count (env.cpus): cannot turn host utilisation into CPU time", r.Point)
		}
		machine = n
		m := r.Measurement
		perReq = append(perReq, m.Telemetry.CPUUtilMean/100*float64(n)/m.ThroughputRPS)
		if deviceOnHost {
			// Calls per request and rows per call as the server counted
			// them (dynamic batching merges requests); else one call of
			// the request's rows.
			calls, rows := 1.0, max(r.Point.BatchSize, 1)
			if b := m.Server; b != nil && b.RequestCount > 0 && b.ExecutionCount > 0 {
				calls = float64(b.ExecutionCount) / float64(b.RequestCount)
				rows = max(int(math.Round(float64(b.InferenceCount)/float64(b.ExecutionCount))), 1)
			}
			dev = append(dev, calls*service(rows).Seconds())
		}
		cal.From = append(cal.From, r.Point)
	}
	cal.Cores = cores
	if cores <= 0 {
		cal.Cores = machine
	}
	cal.CPUPerRequest = time.Duration(stats.Median(perReq) * 1e9)
	if len(dev) > 0 {
		cal.DeviceCPU = time.Duration(stats.Median(dev) * 1e9)
	}
	bg := cal.CPUPerRequest - cal.OverheadCPU - cal.DeviceCPU
	cal.How = fmt.Sprintf("host CPU %.0fus per request = median over the %d busiest points of cpu_util × %d CPUs / requests/s; on the path: overhead %.0fus",
		us(cal.CPUPerRequest), len(busiest), machine, us(cal.OverheadCPU))
	if deviceOnHost {
		cal.How += fmt.Sprintf(" + device calls %.0fus", us(cal.DeviceCPU))
	}
	if bg < 0 {
		cal.How += fmt.Sprintf("; they exceed it by %.0fus: no background work", -us(bg))
		bg = 0
	}
	cal.Background = bg
	cal.How += fmt.Sprintf("; background %.0fus", us(bg))
	return cal, nil
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// fitDeviceExcess fits how the embedded server's emulated devices exceed
// their profile (Validate with FitHost): they wake late by a random
// amount, so the excess is drawn per call, not added as a constant (one
// late call delays every request queued behind it). From the device
// calls recorded at single-request points (CalibrateExcess), growing with
// busy GPUs (CalibrateExcessPerBusyDevice, returned for the HostModel);
// for files without them, an exponential of the servers' mean excess
// (Options.Overshoot). It returns the service time the overhead is then
// fitted against: the profile plus the mean excess.
func fitDeviceExcess(measured []results.Record, s *scenarios.Scenario, opts *Options, service func(int) time.Duration) (func(int) time.Duration, []time.Duration) {
	base := service
	if q := CalibrateExcess(measured, s, service); len(q) > 0 {
		opts.ServiceExcess = q
		mean := time.Duration(meanDur(q))
		return func(rows int) time.Duration { return max(base(rows)+mean, 0) }, CalibrateExcessPerBusyDevice(measured, s, service, q)
	}
	if off, err := CalibrateService(measured, s, service); err == nil && off > 0 {
		opts.Overshoot = off
		return func(rows int) time.Duration { return base(rows) + off }, nil
	}
	return service, nil
}

// fitHost fits the host model into opts.Host (Validate with FitHost):
// the embedded server's device calls and handoffs on the host's cores,
// the overhead's CPU work capped at its median, and the background work
// that makes up the host CPU measured per request. The given opts.Host
// supplies the cores (0: the measuring machine's) and DeviceCPU; perBusy
// is fitDeviceExcess's. On error opts.Host is nil: the host is left
// unlimited.
func fitHost(measured []results.Record, s *scenarios.Scenario, opts *Options, service func(int) time.Duration, perBusy []time.Duration) (*HostCalibration, error) {
	given := HostModel{}
	if opts.Host != nil {
		given = *opts.Host
	}
	opts.Host = nil
	ovhCPU, cpuCap := opts.Overhead, time.Duration(0)
	if q := opts.OverheadQuantiles; len(q) > 0 {
		// A distribution fitted at a lone request on a busy host: up to
		// its median it is work, beyond that waiting (preemption, late
		// wake-ups) that holds no core.
		cpuCap = max(opts.Overhead, time.Nanosecond) // 0 would make it all work
		sum := time.Duration(0)
		for _, d := range q {
			sum += min(d, cpuCap)
		}
		ovhCPU = sum / time.Duration(len(q))
	}
	// The embedded server's device sleeps through a long call and spins
	// only its last stretch (given.DeviceCPU, which the caller takes from
	// the emulator): that, not the whole call, is CPU work.
	devCPU := func(rows int) time.Duration { return min(service(rows), given.DeviceCPU) }
	cal, err := CalibrateHost(measured, s, given.Cores, ovhCPU, devCPU, true)
	if err != nil {
		return nil, err
	}
	opts.Host = &HostModel{Cores: cal.Cores, CPUOverheadCap: cpuCap, DeviceOnHost: true, DeviceCPU: given.DeviceCPU,
		BackgroundCPU: cal.Background, HandoffAfterReply: true, ExcessPerBusyDevice: perBusy}
	return &cal, nil
}

// discountTailNote discounts the fitted overhead's tail (discountTail)
// and says how, for the overhead calibration's account.
func discountTailNote(ctx context.Context, measured []results.Record, s *scenarios.Scenario, m Model, opts *Options) (string, error) {
	f, left, err := discountTail(ctx, measured, s, m, opts)
	if err != nil || f >= 1 {
		return "", err
	}
	note := fmt.Sprintf("; under the host model its tail (beyond %.1fus) scaled by %.2f so that the single-request points' mean latency matches", us(opts.Host.CPUOverheadCap), f)
	if left > 1 {
		note += fmt.Sprintf(" (still %.0fus slower without any tail: the host model contends more than the lone requests saw)", left)
	}
	return note, nil
}

// discountTail scales the waiting tail of a fitted overhead
// distribution (each quantile's excess over the CPU cap) by the factor in
// [0, 1] that makes the single-request points, simulated under the host
// model, take as long on average as they measured. On a loaded host part
// of that tail is contention for the cores, which the host model now adds
// by itself; counted twice, lone requests would run too slowly. The CPU
// part (up to the cap) is kept, so the host fit stands. It returns the
// factor (1: nothing discounted) and the simulated − measured mean
// latency left at the single-request points, in µs.
func discountTail(ctx context.Context, measured []results.Record, s *scenarios.Scenario, m Model, opts *Options) (factor, leftUS float64, err error) {
	type lone struct {
		p      results.Point
		meanUS float64
		n      int
	}
	var points []*lone
	byKey := map[string]*lone{}
	for _, r := range measured {
		if !singleRequest(r, s) || r.Measurement.Latency.MeanUS <= 0 {
			continue
		}
		l := byKey[r.Point.Key()]
		if l == nil {
			l = &lone{p: r.Point}
			byKey[r.Point.Key()] = l
			points = append(points, l)
		}
		l.meanUS += r.Measurement.Latency.MeanUS
		l.n++
	}
	fitted, cpuCap := opts.OverheadQuantiles, opts.Host.CPUOverheadCap
	if len(points) == 0 || len(fitted) == 0 || cpuCap <= 0 {
		return 1, 0, nil
	}
	// excess is the simulated − measured mean latency with the tail
	// scaled by f.
	excess := func(f float64) (float64, error) {
		o := *opts
		o.OverheadQuantiles = make([]time.Duration, len(fitted))
		for i, q := range fitted {
			o.OverheadQuantiles[i] = min(q, cpuCap) + time.Duration(f*float64(max(q-cpuCap, 0)))
		}
		diff := 0.0
		for _, l := range points {
			rec := Point(ctx, s, l.p, m, o)
			if rec.Measurement == nil {
				return 0, fmt.Errorf("discount the overhead's tail at %s: %s", l.p, rec.Reason)
			}
			diff += rec.Measurement.Latency.MeanUS - l.meanUS/float64(l.n)
		}
		return diff / float64(len(points)), nil
	}
	hi, err := excess(1)
	if err != nil || hi <= 0 {
		return 1, hi, err // not too slow: nothing counted twice
	}
	lo, err := excess(0)
	if err != nil {
		return 1, hi, err
	}
	factor, leftUS = 0, lo
	if lo < 0 {
		// Bisect: excess grows with the factor.
		a, b := 0.0, 1.0
		for range 8 {
			f := (a + b) / 2
			e, err := excess(f)
			if err != nil {
				return 1, hi, err
			}
			if e > 0 {
				b = f
			} else {
				a, leftUS = f, e
			}
		}
		factor = a
	}
	q := make([]time.Duration, len(fitted)) // the calibration's stay as fitted
	for i, d := range fitted {
		q[i] = min(d, cpuCap) + time.Duration(factor*float64(max(d-cpuCap, 0)))
	}
	opts.OverheadQuantiles = q
	return factor, leftUS, nil
}

// deconvolve returns the distribution o (sorted, non-negative, as many
// equally likely values as total) such that o plus an independent draw
// from part has the quantiles total, starting from guess. It corrects
// each quantile of o by how far the sum's quantile misses total's, a
// fixed-point iteration that widens the comonotone guess (total's
// quantiles minus part's) until independent sums reproduce the tail.
// Validate uses it to part a lone request's latency into an overhead and
// an emulated device's recorded calls.
func deconvolve(total, part, guess []time.Duration) []time.Duration {
	o := slices.Clone(guess)
	slices.Sort(o)
	for range deconvolveIterations {
		got := sumQuantiles(o, part, len(o))
		for i := range o {
			o[i] = max(o[i]+total[i]-got[i], 0)
		}
		slices.Sort(o)
	}
	return o
}

// sumQuantiles returns n quantiles (at (k+½)/n) of x + y, x and y
// independent and each uniform over its values, from a histogram of all
// len(a)·len(b) sums in at most sumBins bins (1 µs or finer).
func sumQuantiles(a, b []time.Duration, n int) []time.Duration {
	lo, hi := slices.Min(a)+slices.Min(b), slices.Max(a)+slices.Max(b)
	width := max((hi-lo)/sumBins, time.Microsecond)
	counts := make([]int, (hi-lo)/width+1)
	for _, x := range a {
		for _, y := range b {
			counts[(x+y-lo)/width]++
		}
	}
	out := make([]time.Duration, n)
	total, seen, bin := len(a)*len(b), 0, 0
	for k := range out {
		rank := (2*k + 1) * total / (2 * n) // 0-based rank of the quantile
		for seen+counts[bin] <= rank {
			seen += counts[bin]
			bin++
		}
		// Within the bin, spread its sums evenly.
		frac := (float64(rank-seen) + 0.5) / float64(counts[bin])
		out[k] = lo + time.Duration(bin)*width + time.Duration(frac*float64(width))
	}
	return out
}

// sumBins bounds sumQuantiles' histogram.
const sumBins = 100_000

// deconvolveIterations bounds deconvolve's fixed-point iteration.
const deconvolveIterations = 30

// excessQuantiles is how many quantiles describe a device's excess.
const excessQuantiles = 1000

// CalibrateExcess returns the distribution of emulated device calls'
// excess over the profile (call duration − service time of the point's
// batch), as excessQuantiles equally likely values — quantile by
// quantile the median over the device-call histograms the sweep recorded
// at single-request points (where no contention stretches a call; the
// host model adds that). Nil when no such point carries device calls
// (older files, real servers).
func CalibrateExcess(measured []results.Record, s *scenarios.Scenario, service func(rows int) time.Duration) []time.Duration {
	var dists [][]time.Duration
	for _, r := range measured {
		if !singleRequest(r, s) || r.Measurement.DeviceCalls == nil {
			continue
		}
		h, err := hist.FromResults(*r.Measurement.DeviceCalls)
		if err != nil || h.Count() == 0 {
			continue
		}
		dists = append(dists, quantilesOf(h, excessQuantiles, service(max(r.Point.BatchSize, 1))))
	}
	return medianByQuantile(dists)
}

// CalibrateExcessPerBusyDevice fits how a device call's excess grows with
// the GPUs busy on the host, from the device calls recorded at every
// point: each point's excess quantiles (median over its trials) against
// its mean busy GPUs (Little's law: calls per second × mean call), a line
// through base (the excess at one request in flight, CalibrateExcess) per
// quantile, by least squares. It reads the emulated devices' own timing
// under load, not the latency the simulator predicts. Nil when fewer than
// two points with more than one GPU busy on average carry device calls.
func CalibrateExcessPerBusyDevice(measured []results.Record, s *scenarios.Scenario, service func(rows int) time.Duration, base []time.Duration) []time.Duration {
	if len(base) == 0 || s.Server.DynamicBatching {
		return nil
	}
	type point struct {
		busy  []float64
		dists [][]time.Duration
	}
	byKey := map[string]*point{}
	var keys []string
	for _, r := range measured {
		m := r.Measurement
		if r.Kind == results.KindHeader || r.Status != results.StatusOK || m == nil || m.DeviceCalls == nil || m.ThroughputRPS <= 0 {
			continue
		}
		h, err := hist.FromResults(*m.DeviceCalls)
		if err != nil || h.Count() == 0 {
			continue
		}
		pt := byKey[r.Point.Key()]
		if pt == nil {
			pt = &point{}
			byKey[r.Point.Key()] = pt
			keys = append(keys, r.Point.Key())
		}
		pt.busy = append(pt.busy, m.ThroughputRPS*h.Mean()/1e9)
		pt.dists = append(pt.dists, quantilesOf(h, len(base), service(max(r.Point.BatchSize, 1))))
	}
	var xs []float64
	var ds [][]time.Duration
	for _, k := range keys {
		pt := byKey[k]
		if x := stats.Median(pt.busy) - 1; x > 0.5 {
			xs, ds = append(xs, x), append(ds, medianByQuantile(pt.dists))
		}
	}
	if len(xs) < 2 {
		return nil
	}
	sxx := 0.0
	for _, x := range xs {
		sxx += x * x
	}
	out := make([]time.Duration, len(base))
	for i := range out {
		sxy := 0.0
		for j, x := range xs {
			sxy += x * float64(ds[j][i]-base[i])
		}
		out[i] = time.Duration(sxy / sxx)
	}
	return out
}
