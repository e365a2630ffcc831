package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// Comparison sets a point's measured figures beside its simulated ones.
// Throughput is inferences per second; errors are (simulated − measured)
// / measured, in percent.
type Comparison struct {
	Point          results.Point
	Trials         int // measured trials (their median is compared)
	MeasuredIPS    float64
	SimulatedIPS   float64
	IPSErrPct      float64
	MeasuredP99US  float64
	SimulatedP99US float64
	P99ErrPct      float64
	// MeasuredP50US, SimulatedP50US and P50ErrPct are the same for the
	// median latency: the body of the distribution beside its tail.
	MeasuredP50US, SimulatedP50US, P50ErrPct float64
	// IPSSpreadPct and P99SpreadPct are the measured trials' own spread,
	// (max − min) / median in percent (0 with one trial): the noise floor
	// below which no prediction error can be judged.
	IPSSpreadPct, P99SpreadPct float64
}

// Compare matches measured and simulated point records by point and
// returns one row per point present in both, in the measured order.
// Of several measured trials with status ok the median is taken (one trial that stalled does not move it).
func Compare(measured, simulated []results.Record) []Comparison {
	type acc struct{ ips, p50, p99 []float64 } // one per trial
	meas := map[string]*acc{}
	var order []results.Point
	for _, r := range measured {
		if r.Kind == results.KindHeader || r.Status != results.StatusOK || r.Measurement == nil {
			continue
		}
		k := r.Point.Key()
		a := meas[k]
		if a == nil {
			a = &acc{}
			meas[k] = a
			order = append(order, r.Point)
		}
		a.ips = append(a.ips, r.Measurement.ThroughputIPS)
		a.p50 = append(a.p50, r.Measurement.Latency.P50US)
		a.p99 = append(a.p99, r.Measurement.Latency.P99US)
	}
	sim := map[string]*results.Measurement{}
	for _, r := range simulated {
		if r.Kind != results.KindHeader && r.Status == results.StatusOK && r.Measurement != nil {
			sim[r.Point.Key()] = r.Measurement
		}
	}
	var out []Comparison
	for _, p := range order {
		a, s := meas[p.Key()], sim[p.Key()]
		if s == nil {
			continue
		}
		c := Comparison{Point: p, Trials: len(a.ips),
			MeasuredIPS: median(a.ips), SimulatedIPS: s.ThroughputIPS,
			MeasuredP99US: median(a.p99), SimulatedP99US: s.Latency.P99US}
		c.IPSErrPct = errPct(c.SimulatedIPS, c.MeasuredIPS)
		c.P99ErrPct = errPct(c.SimulatedP99US, c.MeasuredP99US)
		c.MeasuredP50US, c.SimulatedP50US = median(a.p50), s.Latency.P50US
		c.P50ErrPct = errPct(c.SimulatedP50US, c.MeasuredP50US)
		c.IPSSpreadPct, c.P99SpreadPct = spreadPct(a.ips), spreadPct(a.p99)
		out = append(out, c)
	}
	return out
}

// spreadPct is (max − min) / median of xs, in percent (0 for a single
// value or a zero median).
func spreadPct(xs []float64) float64 {
	m := median(xs)
	if len(xs) < 2 || m == 0 {
		return 0
	}
	return 100 * (slices.Max(xs) - slices.Min(xs)) / m
}

func errPct(sim, meas float64) float64 {
	if meas == 0 {
		return math.NaN()
	}
	return 100 * (sim - meas) / meas
}

// WriteComparison prints rows as the table
// point | measured thr | simulated thr | err% | measured p99 | simulated p99 | err%
// followed by the largest absolute errors.
func WriteComparison(w io.Writer, rows []Comparison) error {
	trials := 1
	for _, c := range rows {
		trials = max(trials, c.Trials)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if trials > 1 {
		// The trials' spread beside each error: the measurement's own noise.
		fmt.Fprintln(tw, "point\tmeasured thr (inf/s)\tspread%\tsimulated thr (inf/s)\terr%\tmeasured p99 (ms)\tspread%\tsimulated p99 (ms)\terr%\t")
		for _, c := range rows {
			fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.0f\t%+.1f\t%.3f\t%.1f\t%.3f\t%+.1f\t\n", shortPoint(c.Point),
				c.MeasuredIPS, c.IPSSpreadPct, c.SimulatedIPS, c.IPSErrPct, c.MeasuredP99US/1e3, c.P99SpreadPct, c.SimulatedP99US/1e3, c.P99ErrPct)
		}
	} else {
		fmt.Fprintln(tw, "point\tmeasured thr (inf/s)\tsimulated thr (inf/s)\terr%\tmeasured p99 (ms)\tsimulated p99 (ms)\terr%\t")
		for _, c := range rows {
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%+.1f\t%.3f\t%.3f\t%+.1f\t\n", shortPoint(c.Point),
				c.MeasuredIPS, c.SimulatedIPS, c.IPSErrPct, c.MeasuredP99US/1e3, c.SimulatedP99US/1e3, c.P99ErrPct)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	thr, p99 := MaxErrors(rows)
	inThr, inP50, inP99 := countWithin(rows, 10)
	if _, err := fmt.Fprintf(w, "%d points; largest |error|: throughput %.1f%%, p99 %.1f%%; within 10%%: throughput %d, p50 %d, p99 %d\n",
		len(rows), thr, p99, inThr, inP50, inP99); err != nil {
		return err
	}
	if trials > 1 {
		var ts, ps []float64
		for _, c := range rows {
			ts, ps = append(ts, c.IPSSpreadPct), append(ps, c.P99SpreadPct)
		}
		_, err := fmt.Fprintf(w, "measured trials' own spread (max − min over median), median over points: throughput %.1f%%, p99 %.1f%%\n",
			median(ts), median(ps))
		return err
	}
	return nil
}

// countWithin counts the rows whose throughput, p50 and p99 errors are
// within pct percent.
func countWithin(rows []Comparison, pct float64) (thr, p50, p99 int) {
	for _, c := range rows {
		if math.Abs(c.IPSErrPct) <= pct {
			thr++
		}
		if math.Abs(c.P50ErrPct) <= pct {
			p50++
		}
		if math.Abs(c.P99ErrPct) <= pct {
			p99++
		}
	}
	return thr, p50, p99
}

// MaxErrors returns the largest absolute throughput and p99 errors, in
// percent.
func MaxErrors(rows []Comparison) (thr, p99 float64) {
	for _, c := range rows {
		if !math.IsNaN(c.IPSErrPct) {
			thr = max(thr, math.Abs(c.IPSErrPct))
		}
		if !math.IsNaN(c.P99ErrPct) {
			p99 = max(p99, math.Abs(c.P99ErrPct))
		}
	}
	return thr, p99
}

func shortPoint(p results.Point) string {
	return fmt.Sprintf("srv=%d gpu=%d inst=%d cli=%d rate=%g b=%d", p.Servers, p.GPUs, p.Instances, p.Clients, p.Rate, p.BatchSize)
}

// Calibration is a client/network overhead fitted from measurements.
type Calibration struct {
	Overhead time.Duration
	// From are the points it was fitted on.
	From []results.Point
	// How says which rule fitted it.
	How string
	// Quantiles are the overhead's empirical distribution (equally likely
	// values, sorted) from the latency histograms of the single-request
	// points: latency quantiles minus the service time. Empty when those
	// points carry no histogram or the fallback rule was used.
	Quantiles []time.Duration
}

// overheadQuantiles is how many quantiles of each single-request point's
// latency histogram describe the overhead's distribution.
const overheadQuantiles = 1000

// CalibrateOverhead fits the per-request client/network overhead from a
// measured sweep of scenario s: at points where a single request is in
// flight (closed loop, one server, one client, concurrency one, no
// dynamic-batching delay) latency is overhead plus one call, so overhead
// = measured p50 − the profile's service time of the point's batch; the
// median over such points is used. Without such points it falls back to
// the servers' own figure, the mean client_overhead_us (client latency
// minus server time) of the points with the fewest requests in flight.
func CalibrateOverhead(measured []results.Record, s *scenarios.Scenario, service func(rows int) time.Duration) (Calibration, error) {
	return calibrateOverhead(measured, s, service, false)
}

// calibrateOverhead is CalibrateOverhead; with deviceCalls and every
// single-request point's device calls recorded, the overhead's
// distribution is the one that, added to an independent draw of those
// calls, gives the points' latency (deconvolve; latency and calls each
// combined over the points quantile by quantile by the median), so that
// a device's slow calls, drawn separately (ServiceExcess), are not
// counted a second time in the overhead, nor the sum's tail thinned.
func calibrateOverhead(measured []results.Record, s *scenarios.Scenario, service func(rows int) time.Duration, deviceCalls bool) (Calibration, error) {
	var single []float64
	var cal Calibration
	// Each single-request point's latency quantiles and its calls'
	// quantiles (the profile's constant where no calls were recorded).
	var lats, calls [][]time.Duration
	recorded := 0 // points whose device calls were recorded
	callText := "profile service time"
	for _, r := range measured {
		p := r.Point
		if !singleRequest(r, s) {
			continue
		}
		svc := service(max(p.BatchSize, 1))
		var callHist *hist.Histogram
		if dc := r.Measurement.DeviceCalls; deviceCalls && dc != nil {
			h, err := hist.FromResults(*dc)
			if err != nil {
				return Calibration{}, fmt.Errorf("point %s: device calls: %w", p, err)
			}
			if h.Count() > 0 {
				callHist = h
				callText = "the point's device calls"
				recorded++
			}
		}
		callP50 := svc
		if callHist != nil {
			callP50 = time.Duration(callHist.Quantile(0.5))
		}
		single = append(single, r.Measurement.Latency.P50US-float64(callP50)/1e3)
		cal.From = append(cal.From, p)
		if r.Measurement.Histogram != nil {
			h, err := hist.FromResults(*r.Measurement.Histogram)
			if err != nil {
				return Calibration{}, fmt.Errorf("point %s: %w", p, err)
			}
			c := make([]time.Duration, overheadQuantiles)
			if callHist != nil {
				c = quantilesOf(callHist, overheadQuantiles, 0)
			} else {
				for i := range c {
					c[i] = svc
				}
			}
			lats, calls = append(lats, quantilesOf(h, overheadQuantiles, 0)), append(calls, c)
		}
	}
	var dist []time.Duration
	switch {
	case len(lats) > 0 && recorded == len(lats):
		// Calls that vary: the simulator draws overhead and call
		// independently, so the overhead is what, added to an
		// independent call, gives the latency; subtracting quantiles
		// would thin the sum's tail.
		lat, c := medianByQuantile(lats), medianByQuantile(calls)
		guess := make([]time.Duration, len(lat))
		for i := range guess {
			guess[i] = max(lat[i]-c[i], 0)
		}
		dist = deconvolve(lat, c, guess)
		callText += " (deconvolved: overhead and call independent)"
	case len(lats) > 0:
		ds := make([][]time.Duration, len(lats))
		for k := range lats {
			ds[k] = make([]time.Duration, len(lats[k]))
			for i := range ds[k] {
				ds[k][i] = max(lats[k][i]-calls[k][i], 0)
			}
		}
		dist = medianByQuantile(ds)
	}
	if len(single) > 0 {
		us := median(single)
		cal.How = fmt.Sprintf("median over %d single-request points of measured p50 − %s", len(single), callText)
		if us < 0 {
			cal.How += fmt.Sprintf(" (was %.1fus: the profile is slower than the measurement; clamped to 0)", us)
			us = 0
		}
		cal.Overhead = time.Duration(us * 1e3)
		cal.Quantiles = dist
		if len(cal.Quantiles) > 0 {
			cal.How += fmt.Sprintf("; its distribution from their latency histograms, quantile by quantile the median over them (mean %.1fus, p99 %.1fus)",
				meanDur(cal.Quantiles)/1e3, float64(cal.Quantiles[len(cal.Quantiles)*99/100])/1e3)
		}
		return cal, nil
	}
	// Fallback: the server breakdown at the lowest load measured.
	best := math.Inf(1)
	var vals []float64
	cal.From = nil
	for _, r := range measured {
		if r.Kind == results.KindHeader || r.Status != results.StatusOK || r.Measurement == nil || r.Measurement.Server == nil || r.Measurement.Server.ClientOverheadUS <= 0 {
			continue
		}
		load := offeredLoad(r.Point, s)
		switch {
		case load < best:
			best, vals, cal.From = load, []float64{r.Measurement.Server.ClientOverheadUS}, []results.Point{r.Point}
		case load == best:
			vals = append(vals, r.Measurement.Server.ClientOverheadUS)
			cal.From = append(cal.From, r.Point)
		}
	}
	if len(vals) == 0 {
		return Calibration{}, errors.New("cannot calibrate the overhead: no measured point with one request in flight and no server breakdown (client_overhead_us); give it explicitly (--overhead-us)")
	}
	cal.How = fmt.Sprintf("median client_overhead_us of the %d least-loaded measured points", len(vals))
	cal.Overhead = time.Duration(median(vals) * 1e3)
	return cal, nil
}

// offeredLoad ranks points by how much work is in flight: requests in
// flight over all clients in closed loop, requests per second in open
// loop.
func offeredLoad(p results.Point, s *scenarios.Scenario) float64 {
	load := float64(max(p.Servers, 1) * max(p.Clients, 1))
	if s.Workload.Mode == scenarios.ModeClosed {
		if !s.Workload.Sequence && s.Workload.DataSeconds <= 0 {
			load *= max(math.Round(p.Rate), 1)
		}
	} else {
		load *= p.Rate
	}
	return load
}

// HostCalibration is a model of the host fitted from a sweep that ran
// its clients and servers on one machine (an embedded target): what
// Options.HostCores, DeviceOnHost and BackgroundCPU are set to.
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
	// Background is the rest (Options.BackgroundCPU): work no request
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
	cal.CPUPerRequest = time.Duration(median(perReq) * 1e9)
	if len(dev) > 0 {
		cal.DeviceCPU = time.Duration(median(dev) * 1e9)
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

// CalibrateService fits the constant by which a measured device's call
// exceeds the profile: the median over single-request points (as in
// CalibrateOverhead) of the server's compute time per request
// (compute_input + compute_infer + compute_output) minus the profile's
// service time. An emulated GPU on a busy host oversleeps each call by a
// roughly constant timer latency; this puts it into the model.
func CalibrateService(measured []results.Record, s *scenarios.Scenario, service func(rows int) time.Duration) (time.Duration, error) {
	var diffs []float64
	for _, r := range measured {
		if !singleRequest(r, s) || r.Measurement.Server == nil || r.Measurement.Server.ComputeInferUS <= 0 {
			continue
		}
		b := r.Measurement.Server
		want := float64(service(max(r.Point.BatchSize, 1))) / 1e3
		diffs = append(diffs, b.ComputeInputUS+b.ComputeInferUS+b.ComputeOutputUS-want)
	}
	if len(diffs) == 0 {
		return 0, errors.New("cannot fit the service time: no measured point with one request in flight and a server breakdown")
	}
	return time.Duration(median(diffs) * 1e3), nil
}

// deconvolve returns the distribution o (sorted, non-negative, as many
// equally likely values as total) such that o plus an independent draw
// from part has the quantiles total, starting from guess. It corrects
// each quantile of o by how far the sum's quantile misses total's, a
// fixed-point iteration that widens the comonotone guess (total's
// quantiles minus part's) until independent sums reproduce the tail.
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
// at single-request points (where no
// contention stretches a call; the host model adds that). Nil when no
// such point carries device calls (older files, real servers).
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
		if x := median(pt.busy) - 1; x > 0.5 {
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

// quantilesOf returns n equally likely values of h (its quantiles at
// (k+½)/n), each less minus.
func quantilesOf(h *hist.Histogram, n int, minus time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for k := range out {
		out[k] = time.Duration(h.Quantile((float64(k)+0.5)/float64(n))) - minus
	}
	return out
}

// medianByQuantile combines distributions given as equally many sorted
// quantiles into one: each quantile is the median of theirs. Unlike
// pooling, one trial that stalled does not fatten the combined tail.
// Nil for none.
func medianByQuantile(dists [][]time.Duration) []time.Duration {
	if len(dists) == 0 {
		return nil
	}
	out := make([]time.Duration, len(dists[0]))
	col := make([]float64, len(dists))
	for i := range out {
		for j, d := range dists {
			col[j] = float64(d[i])
		}
		out[i] = time.Duration(median(col))
	}
	return out
}

// singleRequest reports whether r is an ok closed-loop measurement with
// one request in flight on one server and no dynamic-batching delay.
func singleRequest(r results.Record, s *scenarios.Scenario) bool {
	if r.Kind == results.KindHeader || r.Status != results.StatusOK || r.Measurement == nil || r.Measurement.Requests == 0 {
		return false
	}
	p := r.Point
	return s.Workload.Mode == scenarios.ModeClosed && !(s.Server.DynamicBatching && s.Server.MaxQueueDelayUS > 0) &&
		max(p.Servers, 1) == 1 && max(p.Clients, 1) == 1 && (s.Workload.DataSeconds > 0 || s.Workload.Sequence || p.Rate < 2)
}

// checkServiceTimes compares the servers' own compute time at points with
// a lone request in flight (where no device wait inflates it) with the
// profile: an emulated device that overslept its profile (a busy host
// wakes timers late) or a real device unlike the profile cannot be
// matched by any overhead.
func checkServiceTimes(measured []results.Record, s *scenarios.Scenario, service func(int) time.Duration) []string {
	var out []string
	for _, r := range measured {
		if r.Measurement == nil || r.Measurement.Server == nil {
			continue
		}
		p, b := r.Point, r.Measurement.Server
		if !singleRequest(r, s) || b.ComputeInferUS <= 0 {
			continue
		}
		want := float64(service(max(p.BatchSize, 1))) / 1e3
		if math.Abs(b.ComputeInferUS-want) > serviceDrift*want {
			out = append(out, fmt.Sprintf("point %s: the server measured %.0fus of compute per request with one request in flight, the model uses %.0fus: the device did not keep to the profile (an emulated GPU on a busy host oversleeps), so errors beyond 10%% are expected",
				shortPoint(p), b.ComputeInferUS, want))
		}
	}
	return out
}

func meanDur(ds []time.Duration) float64 {
	sum := 0.0
	for _, d := range ds {
		sum += float64(d)
	}
	return sum / float64(len(ds))
}

func median(xs []float64) float64 {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	n := len(ys)
	if n%2 == 1 {
		return ys[n/2]
	}
	return (ys[n/2-1] + ys[n/2]) / 2
}

// Validation is the outcome of Validate.
type Validation struct {
	Calibration *Calibration // nil when the overhead was given
	// Host is the fitted host model (FitHost), nil when not fitted.
	Host          *HostCalibration
	Overhead      time.Duration
	ServiceOffset time.Duration // added to the profile (fitted or given)
	Rows          []Comparison
	Simulated     []results.Record
	// Options are those the points were simulated with, fits included.
	Options Options
	// MaxThroughputErrPct and MaxP99ErrPct are the largest absolute
	// errors over Rows.
	MaxThroughputErrPct float64
	MaxP99ErrPct        float64
	// Warnings say where the measurements break the model's assumptions.
	Warnings []string
}

// fitHost calibrates the host model into opts (see FitHost): the
// embedded server's device calls and handoffs on the host's cores, the
// overhead's CPU work capped at its median, and the background work that
// makes up the host CPU measured per request.
func fitHost(measured []results.Record, s *scenarios.Scenario, opts *Options, service func(int) time.Duration) (HostCalibration, error) {
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
	// only its last stretch (opts.DeviceCPU, which the caller takes from
	// the emulator): that, not the whole call, is CPU work.
	devCPU := func(rows int) time.Duration { return min(service(rows), opts.DeviceCPU) }
	host, err := CalibrateHost(measured, s, opts.HostCores, ovhCPU, devCPU, true)
	if err != nil {
		return HostCalibration{}, err
	}
	opts.HostCores, opts.BackgroundCPU, opts.CPUOverheadCap = host.Cores, host.Background, cpuCap
	opts.DeviceOnHost, opts.HandoffAfterReply = true, true
	return host, nil
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
	fitted, cpuCap := opts.OverheadQuantiles, opts.CPUOverheadCap
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

// validateLengthen is how many times longer than the scenario's window
// Validate simulates each point.
const validateLengthen = 10

// serviceDrift is how far a measured server's compute time at a lone
// request may stray from the profile before Validate warns.
const serviceDrift = 0.2

// Fit says what Validate fits from the measurements before simulating.
type Fit uint8

const (
	// FitOverhead fits the client/network overhead (CalibrateOverhead).
	FitOverhead Fit = 1 << iota
	// FitService fits a constant added to the profile's service time
	// (CalibrateService), for devices that do not keep to their profile.
	FitService
	// FitHost models a host shared by clients and embedded servers (an
	// embedded sweep): CalibrateHost on Options.HostCores cores (0: the
	// measuring machine's), device calls on those cores and handed over
	// after the reply (DeviceOnHost, HandoffAfterReply), and of a fitted
	// overhead distribution only up to its median as CPU work, the tail
	// waiting. Without host telemetry it warns and leaves the host
	// unlimited.
	FitHost
)

// Validate simulates the points of a measured sweep of s and compares
// them with the measurements, after fitting what fit names (the service
// offset first, then the overhead on top of it, then the host). Only points present in
// the measured records are simulated.
func Validate(ctx context.Context, s *scenarios.Scenario, measured []results.Record, opts Options, fit Fit) (*Validation, error) {
	if opts.Profile == nil {
		return nil, errors.New("validate: no device profile")
	}
	v := &Validation{}
	if fit&FitService != 0 {
		off, err := CalibrateService(measured, s, opts.Profile.ServiceTime)
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		opts.ServiceOffset = off
	}
	v.ServiceOffset = opts.ServiceOffset
	service := opts.serviceTime()
	if fit&FitHost != 0 && fit&FitService == 0 {
		// The embedded server's device wakes late by a random amount, so
		// its excess over the profile is drawn per call, not added as a
		// constant: one late call delays every request queued behind it.
		base := service
		if q := CalibrateExcess(measured, s, service); len(q) > 0 {
			opts.ServiceExcess = q
			opts.ExcessPerBusyDevice = CalibrateExcessPerBusyDevice(measured, s, service, q)
			mean := time.Duration(meanDur(q))
			service = func(rows int) time.Duration { return max(base(rows)+mean, 0) }
		} else if off, err := CalibrateService(measured, s, service); err == nil && off > 0 {
			opts.Overshoot = off
			service = func(rows int) time.Duration { return base(rows) + off }
		}
	}
	if fit&FitOverhead != 0 {
		cal, err := calibrateOverhead(measured, s, service, len(opts.ServiceExcess) > 0)
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		v.Calibration = &cal
		opts.Overhead = cal.Overhead
		opts.OverheadQuantiles = cal.Quantiles
	}
	v.Warnings = checkServiceTimes(measured, s, service)
	m, err := opts.model(s)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	if fit&FitHost != 0 {
		host, err := fitHost(measured, s, &opts, service)
		switch {
		case err != nil:
			// Older files lack host telemetry: compare without the host.
			v.Warnings = append(v.Warnings, fmt.Sprintf("host left unlimited: %v", err))
		case fit&FitOverhead != 0:
			f, left, err := discountTail(ctx, measured, s, m, &opts)
			if err != nil {
				return nil, fmt.Errorf("validate: %w", err)
			}
			if f < 1 {
				v.Calibration.How += fmt.Sprintf("; under the host model its tail (beyond %.1fus) scaled by %.2f so that the single-request points' mean latency matches", us(opts.CPUOverheadCap), f)
				if left > 1 {
					v.Calibration.How += fmt.Sprintf(" (still %.0fus slower without any tail: the host model contends more than the lone requests saw)", left)
				}
			}
			v.Host = &host
		default:
			v.Host = &host
		}
	}
	v.Overhead = opts.Overhead
	if opts.Lengthen == 0 {
		// The measured figure is a median over trials; the simulated one
		// should be the model's own, not one short window's noisy tail.
		opts.Lengthen = validateLengthen
	}
	seen := map[string]bool{}
	for _, r := range measured {
		if r.Kind == results.KindHeader || r.Status != results.StatusOK || seen[r.Point.Key()] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		seen[r.Point.Key()] = true
		rec := Point(ctx, s, r.Point, m, opts)
		rec.Order = len(v.Simulated)
		v.Simulated = append(v.Simulated, rec)
	}
	if len(seen) == 0 {
		return nil, errors.New("validate: the measured records hold no point with status ok")
	}
	v.Options = opts
	v.Rows = Compare(measured, v.Simulated)
	v.MaxThroughputErrPct, v.MaxP99ErrPct = MaxErrors(v.Rows)
	return v, nil
}
