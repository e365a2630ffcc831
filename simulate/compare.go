package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/internal/stats"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/workload"
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
			MeasuredIPS: stats.Median(a.ips), SimulatedIPS: s.ThroughputIPS,
			MeasuredP99US: stats.Median(a.p99), SimulatedP99US: s.Latency.P99US}
		c.IPSErrPct = errPct(c.SimulatedIPS, c.MeasuredIPS)
		c.P99ErrPct = errPct(c.SimulatedP99US, c.MeasuredP99US)
		c.MeasuredP50US, c.SimulatedP50US = stats.Median(a.p50), s.Latency.P50US
		c.P50ErrPct = errPct(c.SimulatedP50US, c.MeasuredP50US)
		c.IPSSpreadPct, c.P99SpreadPct = spreadPct(a.ips), spreadPct(a.p99)
		out = append(out, c)
	}
	return out
}

// spreadPct is (max − min) / median of xs, in percent (0 for a single
// value or a zero median).
func spreadPct(xs []float64) float64 {
	m := stats.Median(xs)
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
			stats.Median(ts), stats.Median(ps))
		return err
	}
	return nil
}

// WriteFits says what v fitted from the file source and what the points
// were simulated with: the lines above WriteComparison's table.
func (v *Validation) WriteFits(w io.Writer, source string) error {
	var b strings.Builder
	if v.Fit&FitService != 0 {
		fmt.Fprintf(&b, "service time = profile %+.1f µs per call, fitted from the servers' compute time at one request in flight\n", us(v.ServiceOffset))
	}
	if v.Calibration != nil {
		fmt.Fprintf(&b, "overhead %.1f µs per request, fitted from %s (%s)\n", us(v.Overhead), source, v.Calibration.How)
	} else {
		fmt.Fprintf(&b, "overhead %.1f µs per request (given)\n", us(v.Overhead))
	}
	o := v.Options
	device := ""
	if o.Profile != nil {
		device = o.Profile.Device
	}
	if v.Host != nil {
		v.writeHost(&b, source)
		fmt.Fprintf(&b, "profile: %s\n\n", device)
	} else {
		cores := "unlimited (overhead is latency only)"
		if n := o.Host.cores(); n > 0 {
			cores = fmt.Sprint(n)
		}
		fmt.Fprintf(&b, "profile: %s; host cores: %s\n\n", device, cores)
	}
	_, err := io.WriteString(w, b.String())
	return err
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
		us := stats.Median(single)
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
	cal.Overhead = time.Duration(stats.Median(vals) * 1e3)
	return cal, nil
}

// offeredLoad ranks points by how much work is in flight: requests in
// flight over all clients in closed loop, requests per second in open
// loop.
func offeredLoad(p results.Point, s *scenarios.Scenario) float64 {
	load := float64(max(p.Servers, 1) * max(p.Clients, 1))
	if l := s.Workload.ClientLoad(p); s.Workload.Mode == workload.ModeClosed {
		load *= float64(l.Concurrency)
	} else {
		load *= l.Rate
	}
	return load
}

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
	return time.Duration(stats.Median(diffs) * 1e3), nil
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
		out[i] = time.Duration(stats.Median(col))
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
	return s.Workload.Mode == workload.ModeClosed && !(s.Server.DynamicBatching && s.Server.MaxQueueDelayUS > 0) &&
		max(p.Servers, 1) == 1 && max(p.Clients, 1) == 1 && s.Workload.ClientLoad(p).Concurrency == 1
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

// Validation is the outcome of Validate.
type Validation struct {
	Fit         Fit          // what was fitted
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
	// embedded sweep) and the emulated devices' excess over their profile
	// (see fitHost in host.go). Options.Host, if given, says the cores (0:
	// the measuring machine's) and HostModel.DeviceCPU; the rest is
	// fitted. Without host telemetry it warns and leaves the host
	// unlimited.
	FitHost
)

// DefaultFit is what `iaasbench simulate --compare` fits from a measured
// file unless told otherwise:
//   - the overhead, unless it was given (overheadGiven);
//   - the service offset, when asked (fitService);
//   - the host, when the file's header names an embedded target (clients,
//     servers and emulated GPUs shared one machine), unless hostCores is
//     0: then opts.Host is set to the fit's starting point, hostCores
//     cores (< 0: the measuring machine's) and device calls of which
//     deviceCPU is CPU work (the emulator's spin, server.EmulatedGPUSpin,
//     passed in so that the simulator does not import the server).
func DefaultFit(measured []results.Record, opts *Options, overheadGiven, fitService bool, hostCores int, deviceCPU time.Duration) Fit {
	var fit Fit
	if !overheadGiven {
		fit |= FitOverhead
	}
	if fitService {
		fit |= FitService
	}
	if hdr := results.HeaderOf(measured); hdr != nil && hdr.Target == scenarios.TargetEmbedded && hostCores != 0 {
		fit |= FitHost
		opts.Host = &HostModel{Cores: max(hostCores, 0), DeviceCPU: deviceCPU}
	}
	return fit
}

// Validate simulates the points of a measured sweep of s and compares
// them with the measurements, after fitting what fit names (the service
// offset first, then the overhead on top of it, then the host). Only points present in
// the measured records are simulated.
func Validate(ctx context.Context, s *scenarios.Scenario, measured []results.Record, opts Options, fit Fit) (*Validation, error) {
	if opts.Profile == nil {
		return nil, errors.New("validate: no device profile")
	}
	v := &Validation{Fit: fit}
	if fit&FitService != 0 {
		off, err := CalibrateService(measured, s, opts.Profile.ServiceTime)
		if err != nil {
			return nil, fmt.Errorf("validate: %w", err)
		}
		opts.ServiceOffset = off
	}
	v.ServiceOffset = opts.ServiceOffset
	service := opts.serviceTime()
	var perBusy []time.Duration
	if fit&FitHost != 0 && fit&FitService == 0 {
		service, perBusy = fitDeviceExcess(measured, s, &opts, service)
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
		host, err := fitHost(measured, s, &opts, service, perBusy)
		switch {
		case err != nil:
			// Older files lack host telemetry: compare without the host.
			v.Warnings = append(v.Warnings, fmt.Sprintf("host left unlimited: %v", err))
		case fit&FitOverhead != 0:
			note, err := discountTailNote(ctx, measured, s, m, &opts)
			if err != nil {
				return nil, fmt.Errorf("validate: %w", err)
			}
			v.Calibration.How += note
			v.Host = host
		default:
			v.Host = host
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
