// Package gate compares two sweeps of the same scenarios, a baseline and a
// candidate, and decides whether the candidate regressed: the check behind
// `iaasbench gate`, meant to fail a CI job on a real regression and not on
// noise.
//
// Points are matched by scenario name and results.Point.Key(). Each point
// is measured in repeated trials; only records with Status "ok" count, one
// per (SweepID, Trial) (the latest ok attempt of a retried trial). For
// every metric of Metrics (throughput, p50, p99, usd_per_million) a row
// compares the trials of both sweeps:
//
//   - each side's median with a distribution-free 95% interval (order
//     statistics);
//   - the change, candidate/baseline − 1, as the Hodges-Lehmann estimate
//     of the ratio with its distribution-free interval (RatioCI);
//   - "is there any difference": a two-sided Mann-Whitney U test;
//   - "is the candidate worse by more than the metric's threshold": a
//     one-sided Mann-Whitney test of the candidate's values divided by
//     (1 + threshold) against the baseline's. Rejecting it is the same as
//     the interval's near end lying beyond the threshold: the change
//     exceeds its threshold by more than the measured noise.
//
// A gate run makes many comparisons (points × metrics), so every
// decision is family-wise: the p-values of each question are adjusted
// with Holm's method over all rows of the run that ask it, and a row is
// a regression only when its adjusted p is at most Alpha. The chance that
// a run reports any false regression — a change not beyond its threshold
// — is then at most Alpha, however many points and metrics it has.
// Improvements are decided the same way in their own family, and a row is
// "~" (no significant difference) unless the family of two-sided tests
// over every compared row rejects it.
//
// Normalisation (Options.Reference): on shared CI machines a whole run can
// be slower. When a reference point is named, every trial value of every
// point, per metric, is divided by the median of the same metric over the
// reference point's ok trials in the same file (baseline values by the
// baseline's reference, candidate values by the candidate's), and the
// resulting ratios are compared. A machine uniformly 20% slower then shows
// no change. The reference point itself is left out of the rows; its raw
// change is given in Report.Notes. Interleaved runs (SplitSides) measure
// both sides in the same time span instead, which cancels drift without
// a reference.
package gate

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/iaasbench/iaasbench/results"
)

// Defaults of Options.
const (
	DefaultAlpha     = 0.05
	DefaultMinTrials = 5
)

// Options tune a comparison. The zero value uses the defaults.
type Options struct {
	// Thresholds per metric; nil means DefaultThresholds().
	Thresholds Thresholds
	// Alpha is the family-wise error rate: the largest chance that a run
	// reports any false regression (and, separately, any false
	// improvement, any false difference); 0 means DefaultAlpha. Intervals
	// are printed at confidence 1 − Alpha.
	Alpha float64
	// MinTrials is the fewest ok trials each side needs for a point to
	// be compared; 0 means DefaultMinTrials. Independently, a gated row
	// that is not a regression is "insufficient" when its sample sizes
	// could never reach Holm's first step, one-sided p <= Alpha/(gated
	// comparisons): MinOneSidedP(nBase, nNew) above it (e.g. 5 vs 5
	// trials with 36 gated comparisons).
	MinTrials int
	// Reference selects the point each file is normalised by: a
	// results.Point.Key() or any comma-separated field=value list over
	// scenario, model and the point dimensions, e.g. "model=calibrated".
	// It is looked for in the point's own scenario first, then in the
	// whole file (it must then match exactly one point). Empty: no
	// normalisation.
	Reference string
	// USDPerMillion computes expense; nil leaves usd_per_million out (a
	// note says so).
	USDPerMillion USDPerMillionFunc
	// Metrics restricts the comparison to these metric names; nil
	// compares every available metric.
	Metrics []string
}

// Verdict of one row.
type Verdict string

const (
	VerdictOK           Verdict = "ok"
	VerdictRegression   Verdict = "regression"
	VerdictImprovement  Verdict = "improvement"
	VerdictInsufficient Verdict = "insufficient" // too few trials to decide
	VerdictMissing      Verdict = "missing"      // no usable trials (or value) on a side
)

// Row is the comparison of one metric at one point.
type Row struct {
	Scenario string `json:"scenario"`
	PointKey string `json:"point"`
	Metric   string `json:"metric"`
	Unit     string `json:"unit"`
	// BaseMedian and NewMedian are medians over ok trials; ratios to the
	// reference's median when Normalised. BaseCI and NewCI are their
	// distribution-free intervals at confidence 1 − alpha (MedianCI); nil
	// when a side has too few trials for one (fewer than 6 at 95%).
	BaseMedian float64   `json:"base_median"`
	NewMedian  float64   `json:"new_median"`
	BaseCI     *Interval `json:"base_ci,omitempty"`
	NewCI      *Interval `json:"new_ci,omitempty"`
	// DeltaPct is the change in percent, (ratio − 1)·100, with ratio the
	// Hodges-Lehmann estimate of candidate/baseline (RatioCI); DeltaCI is
	// its interval at confidence 1 − alpha, in percent, nil when the trial
	// counts cannot give one. The interval is per row; the verdicts use
	// the family-wise adjusted p-values below.
	DeltaPct float64   `json:"delta_pct"`
	DeltaCI  *Interval `json:"delta_ci_pct,omitempty"`
	// P is the two-sided Mann-Whitney p-value of "no difference", PHolm
	// the same adjusted over every compared row of the run; Significant
	// is PHolm <= alpha (otherwise the row prints "~"). 1 when the row
	// could not be compared.
	P           float64 `json:"p"`
	PHolm       float64 `json:"p_holm"`
	Significant bool    `json:"significant"`
	// PRegression is the one-sided p-value of "the candidate is not worse
	// than the threshold allows" (a Mann-Whitney test of the candidate's
	// values divided by 1 + threshold against the baseline's), and
	// PRegressionHolm the same adjusted over the run's gated rows: the row
	// is a regression when it is at most alpha. PImprovement likewise for
	// a change beyond the threshold the good way. 1 for ungated rows.
	PRegression      float64 `json:"p_regression"`
	PRegressionHolm  float64 `json:"p_regression_holm"`
	PImprovement     float64 `json:"p_improvement"`
	PImprovementHolm float64 `json:"p_improvement_holm"`
	NBase            int     `json:"n_base"`
	NNew             int     `json:"n_new"`
	// ThresholdPct is the signed threshold in percent; meaningless when
	// !Gated (the metric is reported only).
	ThresholdPct float64 `json:"threshold_pct"`
	Gated        bool    `json:"gated"`
	Normalised   bool    `json:"normalised"`
	Verdict      Verdict `json:"verdict"`
	// Reason explains a verdict other than ok.
	Reason string `json:"reason,omitempty"`

	compared bool // the row's figures were computed: it takes part in the families
}

// Report is the outcome of Compare.
type Report struct {
	Rows         []Row `json:"rows"`
	Regressions  int   `json:"regressions"`
	Improvements int   `json:"improvements"`
	// Alpha is the family-wise error rate; Compared and Gated are the
	// sizes of the families Holm's method adjusted over: every compared
	// row ("~"), and the gated ones (regressions, improvements).
	Alpha     float64 `json:"alpha"`
	Compared  int     `json:"compared"`
	Gated     int     `json:"gated"`
	Reference string  `json:"reference,omitempty"`
	// Problems are why points could not be compared (missing points,
	// too few trials, unreadable values); any makes ExitCode 2 unless
	// there is a regression.
	Problems []string `json:"problems,omitempty"`
	// Notes are informational: new points in the candidate, metrics left
	// out, the reference's raw change, mixed sources.
	Notes []string `json:"notes,omitempty"`
}

// ExitCode is 1 when any row is a regression (even if other points could
// not be compared: a known regression is the more useful failure; the
// problems are still listed), else 2 when something could not be compared
// (see Problems), else 0.
func (r *Report) ExitCode() int {
	switch {
	case r.Regressions > 0:
		return 1
	case len(r.Problems) > 0:
		return 2
	}
	return 0
}

// Reason says in one line why ExitCode is what it is.
func (r *Report) Reason() string {
	switch r.ExitCode() {
	case 1:
		var regs []string
		for _, row := range r.Rows {
			if row.Verdict == VerdictRegression {
				regs = append(regs, fmt.Sprintf("%s %s %s %+.1f%% (threshold %+.0f%%, Holm p=%.3g)",
					row.Metric, row.Scenario, row.PointKey, row.DeltaPct, row.ThresholdPct, row.PRegressionHolm))
			}
		}
		s := fmt.Sprintf("%d regression%s: %s", r.Regressions, plural(r.Regressions), strings.Join(regs, "; "))
		if len(r.Problems) > 0 {
			s += fmt.Sprintf(" (also %d problem%s: %s)", len(r.Problems), plural(len(r.Problems)), firstProblems(r.Problems))
		}
		return s
	case 2:
		return "could not compare: " + firstProblems(r.Problems)
	}
	return fmt.Sprintf("no regression in %d comparisons (%d improvement%s)", len(r.Rows), r.Improvements, plural(r.Improvements))
}

// firstProblems joins a few problems; a long list (every point of a
// sweep, often for one cause) is cut, since each one is also reported
// on its own line (table) or in its own field (JSON).
func firstProblems(ps []string) string {
	const shown = 2
	if len(ps) <= shown+1 {
		return strings.Join(ps, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(ps[:shown], "; "), len(ps)-shown)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// CompareFiles reads two results files and compares them.
func CompareFiles(baselinePath, candidatePath string, opts Options) (*Report, error) {
	base, err := results.ReadFile(baselinePath)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	cand, err := results.ReadFile(candidatePath)
	if err != nil {
		return nil, fmt.Errorf("candidate: %w", err)
	}
	return Compare(base, cand, opts)
}

type pointID struct{ scenario, key string }

func (id pointID) String() string { return id.scenario + " " + id.key }

// side is one sweep file, indexed by point.
type side struct {
	name    string
	headers map[string]*results.Header // by SweepID
	order   []pointID                  // first appearance
	trials  map[pointID][]results.Record
	failed  map[pointID]int
	reason  map[pointID]string // last failure reason
	sources map[pointID]map[results.Source]bool
}

func index(name string, recs []results.Record) *side {
	sd := &side{name: name, headers: map[string]*results.Header{}, trials: map[pointID][]results.Record{},
		failed: map[pointID]int{}, reason: map[pointID]string{}, sources: map[pointID]map[results.Source]bool{}}
	type trialID struct {
		id      pointID
		sweep   string
		trial   int
		attempt int
	}
	best := map[trialID]int{} // (point, sweep, trial) → index into sd.trials[id]
	seen := map[pointID]bool{}
	for _, rec := range recs {
		if rec.Kind == results.KindHeader {
			if rec.Header != nil {
				if _, ok := sd.headers[rec.SweepID]; !ok {
					sd.headers[rec.SweepID] = rec.Header
				}
			}
			continue
		}
		id := pointID{rec.Scenario, rec.Point.Key()}
		if !seen[id] {
			seen[id] = true
			sd.order = append(sd.order, id)
		}
		if rec.Status != results.StatusOK {
			sd.failed[id]++
			if rec.Reason != "" {
				sd.reason[id] = rec.Reason
			}
			continue
		}
		if sd.sources[id] == nil {
			sd.sources[id] = map[results.Source]bool{}
		}
		sd.sources[id][rec.Source] = true
		tid := trialID{id: id, sweep: rec.SweepID, trial: rec.Trial}
		if i, ok := best[tid]; ok {
			// A retried trial: keep its latest ok attempt.
			if rec.Attempt >= sd.trials[id][i].Attempt {
				sd.trials[id][i] = rec
			}
			continue
		}
		best[tid] = len(sd.trials[id])
		sd.trials[id] = append(sd.trials[id], rec)
	}
	return sd
}

// values extracts one metric from every ok trial of a point.
func (sd *side) values(id pointID, m Metric) ([]float64, error) {
	trials := sd.trials[id]
	out := make([]float64, 0, len(trials))
	for _, rec := range trials {
		v, err := m.Extract(sd.headers[rec.SweepID], rec)
		if err != nil {
			return nil, fmt.Errorf("%s sweep %q trial %d: %w", sd.name, rec.SweepID, rec.Trial, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// absence explains why a side has no ok trial of a point.
func (sd *side) absence(id pointID) string {
	n := sd.failed[id]
	if n == 0 {
		return "missing from " + sd.name
	}
	s := fmt.Sprintf("%s has no ok trial (%d failed", sd.name, n)
	if r := sd.reason[id]; r != "" {
		s += ": " + r
	}
	return s + ")"
}

type settings struct {
	alpha      float64
	minTrials  int
	thresholds Thresholds
	metrics    []Metric
	ref        *selector
}

func resolve(opts Options) (settings, []string, error) {
	var notes []string
	s := settings{alpha: opts.Alpha, minTrials: opts.MinTrials, thresholds: opts.Thresholds}
	if s.alpha == 0 {
		s.alpha = DefaultAlpha
	}
	if !(s.alpha > 0 && s.alpha < 1) {
		return s, nil, fmt.Errorf("alpha %v: want 0 < alpha < 1", opts.Alpha)
	}
	if s.minTrials == 0 {
		s.minTrials = DefaultMinTrials
	}
	if s.minTrials < 0 {
		return s, nil, fmt.Errorf("min trials %d: want at least 1", opts.MinTrials)
	}
	if s.thresholds == nil {
		s.thresholds = DefaultThresholds()
	}
	for name, v := range s.thresholds {
		b, ok := betterOf(name)
		if !ok {
			return s, nil, fmt.Errorf("threshold for unknown metric %q (want one of %s)", name, strings.Join(MetricNames(), ", "))
		}
		if math.IsNaN(v) || (b == HigherIsBetter && v > 0) || (b == LowerIsBetter && v < 0) {
			return s, nil, fmt.Errorf("threshold %s=%v: %s is better %s, so its threshold must be %s", name, v, name, b,
				map[Better]string{HigherIsBetter: "<= 0", LowerIsBetter: ">= 0"}[b])
		}
	}
	all := Metrics(opts.USDPerMillion)
	if opts.Metrics == nil {
		s.metrics = all
		if opts.USDPerMillion == nil {
			notes = append(notes, "usd_per_million not compared: no cost function given")
		}
	} else {
		for _, name := range opts.Metrics {
			i := slices.IndexFunc(all, func(m Metric) bool { return m.Name == name })
			if i < 0 {
				if name == MetricUSDPerMillion {
					return s, nil, fmt.Errorf("metric %s needs a cost function (Options.USDPerMillion)", name)
				}
				return s, nil, fmt.Errorf("unknown metric %q (want one of %s)", name, strings.Join(MetricNames(), ", "))
			}
			s.metrics = append(s.metrics, all[i])
		}
	}
	if opts.Reference != "" {
		sel, err := parseSelector(opts.Reference)
		if err != nil {
			return s, nil, err
		}
		s.ref = &sel
	}
	return s, notes, nil
}

// refMedians is the reference point of one side for one scenario and its
// median per metric (absent when the metric could not be read).
type refMedians struct {
	id      pointID
	medians map[string]float64
	err     error
}

func (s settings) reference(sd *side, scenario string) refMedians {
	id, err := s.ref.find(sd, scenario)
	if err != nil {
		return refMedians{err: err}
	}
	rm := refMedians{id: id, medians: map[string]float64{}}
	for _, m := range s.metrics {
		vals, err := sd.values(id, m)
		if err != nil {
			return refMedians{id: id, err: fmt.Errorf("reference %s: %w", id, err)}
		}
		med := median(vals)
		if med == 0 {
			return refMedians{id: id, err: fmt.Errorf("%s: reference %s has median %s 0; cannot normalise by it", sd.name, id, m.Name)}
		}
		rm.medians[m.Name] = med
	}
	return rm
}

// refKey names the reference of one side for one scenario.
type refKey struct {
	sd       *side
	scenario string
}

// Compare compares the point records of a baseline sweep with those of a
// candidate sweep. It returns an error only for invalid options; problems
// with the data are in Report.Problems.
func Compare(baseline, candidate []results.Record, opts Options) (*Report, error) {
	s, notes, err := resolve(opts)
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	base, cand := index("baseline", baseline), index("candidate", candidate)
	rep := &Report{Alpha: s.alpha, Reference: opts.Reference, Notes: notes}

	// References are resolved once per side and scenario.
	refs := map[refKey]refMedians{}
	refOf := func(sd *side, scenario string) refMedians {
		k := refKey{sd, scenario}
		if rm, ok := refs[k]; ok {
			return rm
		}
		rm := s.reference(sd, scenario)
		refs[k] = rm
		return rm
	}
	isRef := map[pointID]bool{}
	if s.ref != nil {
		for _, sd := range []*side{base, cand} {
			for _, id := range sd.order {
				if rm := refOf(sd, id.scenario); rm.err == nil {
					isRef[rm.id] = true
				}
			}
		}
	}

	reported := map[string]bool{} // reference problems, once each
	for _, id := range base.order {
		if isRef[id] {
			continue
		}
		var br, cr *refMedians
		if s.ref != nil {
			b, c := refOf(base, id.scenario), refOf(cand, id.scenario)
			for _, rm := range []refMedians{b, c} {
				if rm.err != nil && !reported[rm.err.Error()] {
					reported[rm.err.Error()] = true
					rep.Problems = append(rep.Problems, fmt.Sprintf("scenario %s: cannot normalise: %v", id.scenario, rm.err))
				}
			}
			br, cr = &b, &c
		}
		rep.comparePoint(s, base, cand, id, br, cr)
	}
	for _, id := range cand.order {
		if len(base.trials[id]) == 0 && base.failed[id] == 0 && !isRef[id] {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: new in candidate, not compared", id))
		}
	}
	if s.ref != nil {
		rep.Notes = append(rep.Notes, referenceNotes(s, base, cand, refs)...)
	}
	if len(rep.Rows) == 0 {
		rep.Problems = append(rep.Problems, "no points to compare")
	}
	rep.decide(s)
	return rep, nil
}

// comparePoint appends the rows of one point, one per metric. br and cr
// are the references of both sides, nil without normalisation.
func (rep *Report) comparePoint(s settings, base, cand *side, id pointID, br, cr *refMedians) {
	newRow := func(m Metric) Row {
		thr, gated := s.thresholds[m.Name]
		return Row{Scenario: id.scenario, PointKey: id.key, Metric: m.Name, Unit: m.Unit, P: 1,
			NBase: len(base.trials[id]), NNew: len(cand.trials[id]),
			ThresholdPct: thr * 100, Gated: gated, Normalised: br != nil}
	}
	allRows := func(v Verdict, reason string) {
		for _, m := range s.metrics {
			row := newRow(m)
			row.Verdict, row.Reason = v, reason
			rep.Rows = append(rep.Rows, row)
		}
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %s", id, reason))
	}

	nb, nn := len(base.trials[id]), len(cand.trials[id])
	switch {
	case nb == 0:
		allRows(VerdictMissing, base.absence(id))
		return
	case nn == 0:
		allRows(VerdictMissing, cand.absence(id))
		return
	}
	if br != nil && (br.err != nil || cr.err != nil) {
		// The scenario's problem is already listed; the rows say why.
		for _, m := range s.metrics {
			row := newRow(m)
			row.Verdict, row.Reason = VerdictMissing, "reference missing: cannot normalise"
			rep.Rows = append(rep.Rows, row)
		}
		return
	}
	if srcB, srcC := sourceList(base.sources[id]), sourceList(cand.sources[id]); srcB != srcC {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: baseline source %s, candidate source %s", id, srcB, srcC))
	}

	var few string
	if nb < s.minTrials || nn < s.minTrials {
		few = fmt.Sprintf("too few ok trials (baseline %d, candidate %d; need at least %d each)", nb, nn, s.minTrials)
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %s", id, few))
	}

	for _, m := range s.metrics {
		row := newRow(m)
		bv, err := base.values(id, m)
		if err == nil {
			var cv []float64
			if cv, err = cand.values(id, m); err == nil {
				err = row.measure(s, m, bv, cv, br, cr, few)
			}
		}
		if err != nil {
			row.Verdict, row.Reason = VerdictMissing, err.Error()
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s: %v", id, m.Name, err))
		}
		rep.Rows = append(rep.Rows, row)
	}
}

// measure fills a row's figures and raw p-values from both sides' trial
// values; decide gives the verdicts once every row is measured.
func (row *Row) measure(s settings, m Metric, bv, cv []float64, br, cr *refMedians, few string) error {
	if br != nil {
		for i := range bv {
			bv[i] /= br.medians[m.Name]
		}
		for i := range cv {
			cv[i] /= cr.medians[m.Name]
		}
	}
	conf := 1 - s.alpha
	row.BaseMedian, row.NewMedian = median(bv), median(cv)
	row.BaseCI, row.NewCI = MedianCI(bv, conf), MedianCI(cv, conf)
	ratio, ci, err := RatioCI(bv, cv, conf)
	if err != nil {
		return err
	}
	row.DeltaPct = (ratio - 1) * 100
	if ci != nil {
		row.DeltaCI = &Interval{Low: (ci.Low - 1) * 100, High: (ci.High - 1) * 100, Level: ci.Level}
	}
	mw, err := MannWhitneyU(cv, bv)
	if err != nil {
		return err
	}
	row.P = mw.P
	if few != "" {
		row.Verdict, row.Reason = VerdictInsufficient, few
		return nil
	}
	row.Verdict, row.compared = VerdictOK, true
	if !row.Gated {
		return nil
	}
	// The threshold tests: divide the candidate by the factor at the
	// threshold and ask whether it is still worse (better) than the
	// baseline. U counts pairs where the scaled candidate is larger.
	thr := s.thresholds[m.Name]
	tail := func(factor float64, larger bool) (float64, error) {
		if factor <= 0 {
			return 1, nil // e.g. an improvement beyond -100%: impossible
		}
		scaled := make([]float64, len(cv))
		for i, v := range cv {
			scaled[i] = v / factor
		}
		mw, err := MannWhitneyU(scaled, bv)
		if larger {
			return mw.PHigh, err
		}
		return mw.PLow, err
	}
	worseIsLarger := m.Better == LowerIsBetter
	if row.PRegression, err = tail(1+thr, worseIsLarger); err != nil {
		return err
	}
	row.PImprovement, err = tail(1-thr, !worseIsLarger)
	return err
}

// decide adjusts the p-values of the compared rows for multiplicity
// (Holm) and gives every compared row its verdict.
func (rep *Report) decide(s settings) {
	var all, gated []int
	for i, row := range rep.Rows {
		if !row.compared {
			continue
		}
		all = append(all, i)
		if row.Gated {
			gated = append(gated, i)
		}
	}
	rep.Compared, rep.Gated = len(all), len(gated)
	adjust := func(rows []int, get func(*Row) float64, set func(*Row, float64)) {
		ps := make([]float64, len(rows))
		for k, i := range rows {
			ps[k] = get(&rep.Rows[i])
		}
		for k, adj := range Holm(ps) {
			set(&rep.Rows[rows[k]], adj)
		}
	}
	for i := range rep.Rows {
		rep.Rows[i].PHolm, rep.Rows[i].PRegressionHolm, rep.Rows[i].PImprovementHolm = 1, 1, 1
		if !rep.Rows[i].Gated || !rep.Rows[i].compared {
			rep.Rows[i].PRegression, rep.Rows[i].PImprovement = 1, 1
		}
	}
	adjust(all, func(r *Row) float64 { return r.P }, func(r *Row, p float64) { r.PHolm = p })
	adjust(gated, func(r *Row) float64 { return r.PRegression }, func(r *Row, p float64) { r.PRegressionHolm = p })
	adjust(gated, func(r *Row) float64 { return r.PImprovement }, func(r *Row, p float64) { r.PImprovementHolm = p })

	// Holm's first step tests the smallest p at alpha/m: a row whose
	// trial counts cannot get there can never fail the gate.
	first := s.alpha / float64(max(len(gated), 1))
	told := map[string]bool{}
	for _, i := range all {
		row := &rep.Rows[i]
		row.Significant = row.PHolm <= s.alpha
		if !row.Gated {
			continue
		}
		beyond := func(p, adj float64, v Verdict, thrPct float64) bool {
			if adj > s.alpha {
				return false
			}
			row.Verdict = v
			ci := "no interval"
			if row.DeltaCI != nil {
				ci = fmt.Sprintf("%.0f%% CI %+.1f%% .. %+.1f%%", 100*(1-s.alpha), row.DeltaCI.Low, row.DeltaCI.High)
			}
			row.Reason = fmt.Sprintf("%+.1f%% (%s) beyond threshold %+.0f%%: p=%.3g, Holm-adjusted over %d gated comparisons %.3g <= %g",
				row.DeltaPct, ci, thrPct, p, len(gated), adj, s.alpha)
			return true
		}
		switch best := MinOneSidedP(row.NBase, row.NNew); {
		case beyond(row.PRegression, row.PRegressionHolm, VerdictRegression, row.ThresholdPct):
			rep.Regressions++
		case beyond(row.PImprovement, row.PImprovementHolm, VerdictImprovement, -row.ThresholdPct):
			rep.Improvements++
		case best > first:
			// Not rejected, and it could not have been on its own: say so
			// (a later Holm step, after other rows, can still reject it).
			row.Verdict = VerdictInsufficient
			row.Reason = fmt.Sprintf("too few ok trials (baseline %d, candidate %d): with %d gated comparisons a regression needs p <= %g/%d = %.3g, and these counts reach at best %.3g; use at least %d trials a side",
				row.NBase, row.NNew, len(gated), s.alpha, len(gated), first, best, TrialsFor(first))
			if id := row.Scenario + " " + row.PointKey; !told[id] {
				told[id] = true
				rep.Problems = append(rep.Problems, id+": "+row.Reason)
			}
		}
	}
}

func sourceList(set map[results.Source]bool) string {
	var out []string
	for src := range set {
		name := string(src)
		if name == "" {
			name = "unlabelled"
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return strings.Join(out, "+")
}

// referenceNotes reports each reference's raw change: the machine-speed
// difference that normalisation took out.
func referenceNotes(s settings, base, cand *side, refs map[refKey]refMedians) []string {
	var out []string
	done := map[[2]pointID]bool{}
	for _, id := range base.order {
		b, okb := refs[refKey{base, id.scenario}]
		c, okc := refs[refKey{cand, id.scenario}]
		if !okb || !okc || b.err != nil || c.err != nil || done[[2]pointID{b.id, c.id}] {
			continue
		}
		done[[2]pointID{b.id, c.id}] = true
		var parts []string
		for _, m := range s.metrics {
			bm, cm := b.medians[m.Name], c.medians[m.Name]
			parts = append(parts, fmt.Sprintf("%s %s → %s (%+.1f%%)", m.Name, formatValue(bm), formatValue(cm), (cm-bm)/math.Abs(bm)*100))
		}
		ref := b.id.String()
		if c.id != b.id {
			ref += " / " + c.id.String()
		}
		out = append(out, fmt.Sprintf("reference %s (raw medians, normalised out): %s", ref, strings.Join(parts, ", ")))
	}
	return out
}
