package measure

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/internal/telemetry"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// Run measures one configuration: it prepares the load (connections,
// inputs, one checked request per server), warms up, then records
// windows until the stability criterion holds or the fixed amount of load
// is done, with the server's statistics and telemetry beside.
//
// When the load fails part-way (the server dies, the context ends), Run
// returns what was measured up to then, marked Incomplete with Error set,
// together with the error. When nothing could be measured it returns a
// nil Measurement and the error.
func Run(ctx context.Context, opts Options) (*results.Measurement, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p, err := prepare(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer p.close()

	lctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &run{o: &o, p: p, ctx: lctx, cancel: cancel, callCtx: context.WithoutCancel(lctx),
		stopCh: make(chan struct{}), failed: make(chan struct{}), allDone: make(chan struct{})}
	if o.Requests > 0 {
		r.limited = true
		r.budget.Store(math.MaxInt64) // unlimited during warm-up
		if o.Warmup == 0 {
			r.budget.Store(o.Requests)
		}
	}
	r.warming.Store(o.Warmup > 0)
	co := &coordinator{r: r, o: &o, p: p, ctx: ctx}
	if o.Warmup == 0 {
		// Everything counts: the statistics start before the first request.
		co.first = co.readStats()
	}
	r.epoch = time.Now()
	r.start()
	if o.Progress != nil {
		stopBar := co.showProgress(o.Progress)
		defer stopBar()
	}
	m, err := co.measure()
	return m, err
}

// coordinator runs the warm-up and the windows and assembles the
// Measurement.
type coordinator struct {
	r   *run
	o   *Options
	p   *plan
	ctx context.Context

	first   *statSnap // statistics at the start of the first window
	group   *telemetry.Group
	groupCh chan *telemetry.Group // hands the running group to the progress bar
}

// window is one closed measurement window.
type window struct {
	results.Window
	errors   int64
	rejected int64
	io       ioTimes
	// latencyUS is the latency stability is judged by: p99, or the
	// Percentile asked for.
	latencyUS float64
	stats     *statSnap // at the window's end; nil when unreadable
}

// wait sleeps until deadline (ns since epoch) or until the load fails,
// finishes or is cancelled; it returns why it woke.
func (c *coordinator) wait(deadline int64) error {
	d := time.Duration(deadline - c.r.now())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.r.failed:
		return c.r.failErr
	case <-c.r.allDone:
		// Clients that gave up on a failure end too: select picks among
		// ready cases at random, so the failure must win here, or a dead
		// server would pass for a finished load.
		select {
		case <-c.r.failed:
			return c.r.failErr
		default:
		}
		return errLoadDone
	case <-c.ctx.Done():
		return fmt.Errorf("measurement cancelled: %w", c.ctx.Err())
	}
}

// errLoadDone says every client finished its fixed share of the load.
var errLoadDone = errors.New("load done")

func (c *coordinator) drainAll(h *hist.Histogram, io *ioTimes) (errs, rejected int64) {
	for _, rec := range c.r.recorders {
		e, j := rec.drain(h, io)
		errs += e
		rejected += j
	}
	return errs, rejected
}

func (c *coordinator) measure() (*results.Measurement, error) {
	o, r := c.o, c.r
	m := &results.Measurement{Model: o.Model, Mode: o.Mode, RPC: o.RPC, Arrival: o.Arrival, Sequence: o.Sequence, Connection: c.p.connection(o),
		Clients: o.Clients, Concurrency: o.Concurrency, InputData: c.p.inputData}
	if o.Mode == workload.ModeOpen {
		m.RequestRate = o.Rate * float64(o.Clients)
	}

	// Warm-up: run, then throw away what was recorded.
	var start int64
	first := c.first
	phase := PhasesOf(c.ctx)
	if o.Warmup > 0 {
		phase(Phase{Warmup: true})
		stop := c.wait(int64(o.Warmup))
		snap := c.snapshotAsync()
		start = r.now()
		// Requests taken from here on are measured: the budget (a fixed
		// request count) and the flag say so to take, then what the
		// warm-up's requests recorded is dropped.
		if r.limited {
			r.budget.Store(o.Requests)
		}
		r.warming.Store(false)
		for _, rec := range r.recorders {
			rec.dropWarmup()
		}
		if stop != nil {
			c.finish()
			if errors.Is(stop, errLoadDone) {
				return nil, fmt.Errorf("all %s of load finished within the %v warm-up: shorten the warm-up or give more data/requests", c.amount(), o.Warmup)
			}
			return nil, fmt.Errorf("during warm-up: %w", stop)
		}
		first = snap()
	}
	m.Start = r.epoch.Add(time.Duration(start))
	if !o.NoTelemetry {
		c.group = telemetry.Start(c.ctx, m.Start, c.samplers()...)
		if c.groupCh != nil {
			c.groupCh <- c.group
		}
	}

	k := o.StableWindows
	recent := make([]*hist.Histogram, k) // the last k windows, for the stable figures
	for i := range recent {
		recent[i] = &hist.Histogram{}
	}
	total := &hist.Histogram{}
	var windows []window
	stable := false
	wStart := start
	wBase := c.completed()
	var stop error
	maxWindows := o.MaxWindows
	if o.fixedLength() {
		maxWindows = 0
	}
	for {
		phase(Phase{Window: len(windows) + 1, MaxWindows: maxWindows})
		end := wStart + int64(o.Window)
		if o.Duration > 0 {
			end = min(end, start+int64(o.Duration))
		}
		stop = c.wait(end)
		for stop == nil && o.WindowRequests > 0 && c.completed()-wBase < o.WindowRequests &&
			(o.Duration <= 0 || r.now()-start < int64(o.Duration)) {
			// count_windows: the window goes on until enough requests completed.
			stop = c.wait(r.now() + int64(countPoll))
		}
		now := r.now()
		wh := recent[len(windows)%k]
		wh.Reset()
		snap := c.snapshotAsync()
		var wio ioTimes
		errs, rejected := c.drainAll(wh, &wio)
		wBase = c.completed()
		total.Merge(wh)
		dur := time.Duration(now - wStart).Seconds()
		w := window{Window: results.Window{
			StartS:    time.Duration(wStart - start).Seconds(),
			DurationS: dur,
			P99US:     float64(wh.Quantile(0.99)) / 1e3,
		}, errors: errs, rejected: rejected, io: wio, stats: snap()}
		w.latencyUS = w.P99US
		if o.Percentile > 0 {
			w.latencyUS = float64(wh.Quantile(float64(o.Percentile)/100)) / 1e3
		}
		if dur > 0 {
			w.ThroughputIPS = float64(wh.Count()*int64(c.p.rows)) / dur
			w.RejectedRPS = float64(rejected) / dur
		}
		windows = append(windows, w)
		wStart = now
		if stop != nil {
			break
		}
		if o.Duration > 0 && now-start >= int64(o.Duration) {
			break
		}
		if !o.fixedLength() {
			if len(windows) >= k && isStable(windows[len(windows)-k:], o.StabilityTolerance) {
				stable = true
				break
			}
			if len(windows) >= o.MaxWindows {
				break
			}
		}
	}
	if c.group != nil {
		t := c.group.Stop()
		m.Telemetry = &t
	}
	c.finish()

	// The figures cover the stable windows when the criterion decided,
	// otherwise every window.
	agg, from := total, 0
	if stable {
		agg = &hist.Histogram{}
		for _, h := range recent {
			agg.Merge(h)
		}
		from = len(windows) - k
	}
	if o.fixedLength() {
		last := windows[max(0, len(windows)-k):]
		stable = isStable(last, o.StabilityTolerance)
	}
	m.Stable = stable
	for _, w := range windows {
		m.Windows = append(m.Windows, w.Window)
	}
	var errs, rejected int64
	var io ioTimes
	for _, w := range windows[from:] {
		m.DurationS += w.DurationS
		errs += w.errors
		rejected += w.rejected
		io.add(w.io)
	}
	if io.n > 0 {
		m.Client = &results.ClientTimes{SendUS: float64(io.sendNS) / float64(io.n) / 1e3, RecvUS: float64(io.recvNS) / float64(io.n) / 1e3}
	}
	m.Requests = agg.Count()
	m.Inferences = m.Requests * int64(c.p.rows)
	m.Errors = errs
	m.Rejected = rejected
	if m.DurationS > 0 {
		m.ThroughputRPS = float64(m.Requests) / m.DurationS
		m.ThroughputIPS = float64(m.Inferences) / m.DurationS
		offered := m.Requests + rejected + errs
		m.OfferedRPS = float64(offered) / m.DurationS
		m.RejectedRPS = float64(rejected) / m.DurationS
		if offered > 0 {
			m.RejectionRate = float64(rejected) / float64(offered)
		}
	}
	if o.Sequence {
		m.DataRate = m.ThroughputRPS / o.InferenceRate
	}
	m.Latency = agg.Summary()
	if o.Percentile > 0 {
		m.Latency.Percentile = o.Percentile
		m.Latency.PercentileUS = float64(agg.Quantile(float64(o.Percentile)/100)) / 1e3
	}
	h := agg.ToResults()
	m.Histogram = &h
	before := first
	if from > 0 {
		before = windows[from-1].stats
	}
	// A server that died leaves the last windows without statistics: the
	// breakdown per request then covers the windows it still answered for.
	after := windows[len(windows)-1].stats
	for j := len(windows) - 1; after == nil && j > from; j-- {
		after = windows[j-1].stats
	}
	m.Server = breakdown(before, after, m.Latency.MeanUS)
	if stop != nil && !errors.Is(stop, errLoadDone) {
		m.Incomplete = true
		m.Error = stop.Error()
		return m, stop
	}
	if err := c.r.mismatched.err(); err != nil && m.Requests > 0 {
		m.Error = err.Error()
		return m, err
	}
	if m.Requests == 0 {
		err := fmt.Errorf("no request of model %q completed in %.3g s of measurement (%d errors, %d rejected for overload)", o.Model, m.DurationS, errs, rejected)
		if le := c.lastError(); le != nil {
			err = fmt.Errorf("%w; last error: %v", err, le)
		}
		m.Incomplete = true
		m.Error = err.Error()
		return m, err
	}
	return m, nil
}

// finish stops the load and waits for the requests in flight, cancelling
// them past the drain time-out.
func (c *coordinator) finish() {
	r := c.r
	r.stop()
	if c.ctx.Err() != nil {
		r.hardStop() // the caller gave up: do not wait for the server
	}
	t := time.NewTimer(c.o.DrainTimeout)
	defer t.Stop()
	select {
	case <-r.allDone:
	case <-t.C:
		c.o.Logger.Warn("requests still in flight after the drain time-out; cancelling them", "timeout", c.o.DrainTimeout)
		r.hardStop()
		<-r.allDone
	}
	r.cancel()
}

func (c *coordinator) lastError() error {
	for _, rec := range c.r.recorders {
		rec.mu.Lock()
		err := rec.lastErr
		rec.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *coordinator) amount() string {
	if c.o.DataSeconds > 0 {
		return fmt.Sprintf("%g s of data (%d requests)", c.o.DataSeconds, int64(math.Round(c.o.DataSeconds*c.o.InferenceRate)))
	}
	return fmt.Sprintf("%d requests", c.o.Requests)
}

func (c *coordinator) samplers() []telemetry.Sampler {
	if c.o.Samplers != nil {
		return c.o.Samplers
	}
	iv := c.o.TelemetryInterval
	s := []telemetry.Sampler{telemetry.NewNVML(iv), telemetry.NewHostCPU(iv)}
	for _, u := range c.o.MetricsURLs {
		s = append(s, telemetry.NewPrometheus(u, iv).WarnTo(c.o.Logger))
	}
	return s
}

// countPoll is how often a count window checks whether enough requests
// completed.
const countPoll = 5 * time.Millisecond

// completed is the number of requests answered since the load started.
func (c *coordinator) completed() int64 {
	var n int64
	for _, rec := range c.r.recorders {
		n += rec.done.Load()
	}
	return n
}

// isStable reports whether every window's throughput and latency (p99,
// or the percentile asked for) lie within tol (a fraction) of the
// windows' means.
func isStable(ws []window, tol float64) bool {
	if len(ws) == 0 {
		return false
	}
	var tput, lat float64
	for _, w := range ws {
		tput += w.ThroughputIPS
		lat += w.latencyUS
	}
	tput /= float64(len(ws))
	lat /= float64(len(ws))
	if tput <= 0 {
		return false
	}
	for _, w := range ws {
		if math.Abs(w.ThroughputIPS-tput) > tol*tput || math.Abs(w.latencyUS-lat) > tol*lat {
			return false
		}
	}
	return true
}
