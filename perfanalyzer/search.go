package perfanalyzer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/results/pacsv"
	"github.com/iaasbench/iaasbench/sweep"
)

// MaxSearchValues caps a linear search whose end is 0 (up to the latency
// threshold): perf_analyzer has no cap, but a server that never reaches
// the threshold would make it run for ever.
const MaxSearchValues = 100

// Search is perf_analyzer's search over a range: linear (every value in
// turn while the latency stays under the threshold) or, with Binary, a
// bisection for the largest value under the threshold.
//
// As perf_analyzer: the latency compared is the stabilizing one (the
// --percentile asked for, else the mean); a value is over the threshold
// when that latency is at least ThresholdMS (perf_analyzer compares
// whole milliseconds, latency_ms >= threshold, which is the same); a value
// over it ends a linear search and is not one of the results (Rows), nor
// is a value that failed, which ends either search. Binary measures
// start (over: stop), then end (under: stop), then the midpoint of the
// last value under and the first over, while they are more than Step
// apart; for concurrencies the midpoint is rounded down.
type Search struct {
	Range Range
	// ThresholdMS is the latency threshold in ms; 0 is none.
	ThresholdMS int64
	Binary      bool
	// Integer: the values are concurrencies (whole midpoints).
	Integer bool
	// Percentile: the latency compared is pN, else the mean.
	Percentile int
	// Flag names the range option in errors and reasons.
	Flag string
}

// Check refuses what perf_analyzer refuses, with the flags named.
func (s *Search) Check() error {
	r := s.Range
	switch {
	case s.ThresholdMS < 0:
		return fmt.Errorf("--latency-threshold %d: want ms >= 0", s.ThresholdMS)
	case r.Unbounded() && s.Binary:
		return fmt.Errorf("%s end 0 with --binary-search: a binary search needs the end of the range", s.Flag)
	case r.Unbounded() && s.ThresholdMS == 0:
		return fmt.Errorf("%s end 0 searches up to the latency threshold: give -l/--latency-threshold MS, or an end", s.Flag)
	case s.Binary && s.ThresholdMS == 0:
		return errors.New("--binary-search looks for the largest value under the latency threshold: give -l/--latency-threshold MS")
	case s.Binary && r.End <= r.Start:
		return fmt.Errorf("--binary-search needs a range to search: give %s start:end[:step] with end above start", s.Flag)
	}
	return nil
}

// Active says the range is a search rather than a plain grid of values.
func (s *Search) Active() bool { return s.ThresholdMS > 0 || s.Binary }

// Values are the values a linear search may visit (up to
// MaxSearchValues when unbounded); for a binary search, start and end.
func (s *Search) Values() []float64 {
	if s.Binary {
		return []float64{s.Range.Start, s.Range.End}
	}
	if s.Range.Unbounded() {
		out := make([]float64, MaxSearchValues)
		for i := range out {
			out[i] = s.Range.at(i)
		}
		return out
	}
	return s.Range.Values()
}

// Strategy is a fresh run of the search for sweep.Options.Strategy.
func (s *Search) Strategy() sweep.Strategy {
	return &searchRun{s: s, issued: map[float64]bool{}}
}

// Under reports whether a measurement is under the threshold, and its
// stabilizing latency in µs.
func (s *Search) Under(m *results.Measurement) (bool, float64) {
	lat := m.Latency.MeanUS
	if s.Percentile > 0 {
		lat = pacsv.LatencyAt(m, s.Percentile)
	}
	return s.ThresholdMS <= 0 || lat < float64(s.ThresholdMS)*1000, lat
}

// searchRun is one run of a Search. It replays the search's path from
// the records on every call, so a resumed sweep goes the same way: a
// value it has handed out is judged by its ok record (from any run), and
// one without has failed.
type searchRun struct {
	s      *Search
	issued map[float64]bool
}

func (r *searchRun) Name() string {
	if r.s.Binary {
		return "binary"
	}
	return "linear"
}

// Size is the most values the search measures.
func (r *searchRun) Size() int {
	if !r.s.Binary {
		return len(r.s.Values())
	}
	span := (r.s.Range.End - r.s.Range.Start) / r.s.Range.Step
	return 2 + int(math.Ceil(math.Log2(max(span, 1))))
}

// verdict is what the records say of a value.
type verdict int

const (
	unknown verdict = iota // not measured yet in this path: measure it
	under
	over
	failed
)

func (r *searchRun) Next(measured []results.Record) (results.Point, string, bool) {
	ok := map[float64]*results.Measurement{}
	reason := map[float64]string{}
	for _, rec := range measured {
		if rec.Kind != results.KindPoint {
			continue
		}
		if rec.Status == results.StatusOK && rec.Measurement != nil {
			ok[rec.Point.Rate] = rec.Measurement
		} else {
			reason[rec.Point.Rate] = fmt.Sprintf("%s: %s", rec.Status, rec.Reason)
		}
	}
	var why string
	judge := func(v float64) verdict {
		// Every value on the path is handed to the sweep, those measured
		// in an earlier run too, so that it counts them as already there.
		if !r.issued[v] {
			return unknown
		}
		if m := ok[v]; m != nil {
			u, lat := r.s.Under(m)
			if u {
				return under
			}
			why = fmt.Sprintf("%s %s: %s latency %.3f ms reached the threshold of %d ms", r.s.load(), fmtValue(v), r.s.latencyName(), lat/1000, r.s.ThresholdMS)
			return over
		}
		why = fmt.Sprintf("%s %s has no measurement (%s)", r.s.load(), fmtValue(v), reason[v])
		return failed
	}
	var v float64
	var stop string
	if r.s.Binary {
		v, stop = r.binary(judge, &why)
	} else {
		v, stop = r.linear(judge, &why)
	}
	if stop != "" {
		return results.Point{}, stop, false
	}
	r.issued[v] = true
	return results.Point{Clients: 1, Servers: 1, Rate: v}, "", true
}

// linear is the next value of a linear search, or why it stops.
func (r *searchRun) linear(judge func(float64) verdict, why *string) (float64, string) {
	rg := r.s.Range
	for i := 0; ; i++ {
		v := rg.at(i)
		switch {
		case rg.Unbounded() && i >= MaxSearchValues:
			return 0, fmt.Sprintf("%d values measured without reaching the latency threshold of %d ms (the cap of a search with end 0)", MaxSearchValues, r.s.ThresholdMS)
		case !rg.Unbounded() && !rg.contains(v):
			return 0, "end of the range"
		}
		switch judge(v) {
		case unknown:
			return v, ""
		case over, failed:
			return 0, *why
		}
	}
}

// binary is the next value of a binary search, or why it stops.
func (r *searchRun) binary(judge func(float64) verdict, why *string) (float64, string) {
	rg := r.s.Range
	switch judge(rg.Start) {
	case unknown:
		return rg.Start, ""
	case over:
		return 0, *why + ": nothing in the range is under it"
	case failed:
		return 0, *why
	}
	switch judge(rg.End) {
	case unknown:
		return rg.End, ""
	case under:
		return 0, fmt.Sprintf("%s %s, the end of the range, is under the latency threshold of %d ms", r.s.load(), fmtValue(rg.End), r.s.ThresholdMS)
	case failed:
		return 0, *why
	}
	lo, hi := rg.Start, rg.End
	for hi-lo > rg.Step+1e-9*math.Max(1, math.Abs(hi)) {
		mid := (lo + hi) / 2
		if r.s.Integer {
			mid = math.Floor(mid)
		} else {
			mid = math.Round(mid*1e9) / 1e9
		}
		switch judge(mid) {
		case unknown:
			return mid, ""
		case under:
			lo = mid
		case over:
			hi = mid
		case failed:
			return 0, *why
		}
	}
	return 0, fmt.Sprintf("%s %s is the largest value found under the latency threshold of %d ms (%s is over it)", r.s.load(), fmtValue(lo), r.s.ThresholdMS, fmtValue(hi))
}

// Rows are the results of a search, as perf_analyzer reports them: the
// values measured ok and under the threshold, in ascending order.
func (s *Search) Rows(recs []results.Record) []pacsv.Row {
	var values []float64
	for _, r := range recs {
		if r.Kind == results.KindPoint && r.Status == results.StatusOK && r.Measurement != nil && !slices.Contains(values, r.Point.Rate) {
			values = append(values, r.Point.Rate)
		}
	}
	slices.Sort(values)
	var rows []pacsv.Row
	for _, row := range Rows(recs, values) {
		if u, _ := s.Under(row.M); u {
			rows = append(rows, row)
		}
	}
	return rows
}

func (s *Search) load() string {
	if s.Integer {
		return "concurrency"
	}
	return "request rate"
}

func (s *Search) latencyName() string {
	if s.Percentile > 0 {
		return "p" + strconv.Itoa(s.Percentile)
	}
	return "mean"
}

func fmtValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
