package plots

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/iaasbench/iaasbench/internal/stats"
	"github.com/iaasbench/iaasbench/results"
)

// pointData is one configuration of the sweep with its trials folded
// together: the figures every plot draws from.
type pointData struct {
	Point  results.Point
	Key    string
	Label  string // varied coordinates only, e.g. "gpu=2 inst=4 cli=8"
	Config string // label of the configuration group (varied dims except the along dim)
	Cat    string // the model-config fields set to names (instance kind), as "kind=KIND_CPU"
	Along  float64

	Status results.Status
	Reason string
	Trials int // usable trials folded into the figures below
	Order  int // first time the sweep measured this point

	Measurement *results.Measurement // representative trial (median throughput)
	Throughput  float64              // inferences/s, mean over usable trials
	P50MS       float64
	P99MS       float64

	// Cost figures, filled by the cost package when it is available.
	USDHour    float64
	USDMillion float64
	Cost       float64
	Feasible   bool
	Violations []string
	CostKnown  bool
}

// ok says whether the point has figures to draw.
func (p *pointData) ok() bool { return p.Measurement != nil && p.Throughput > 0 }

// sweep is everything the report knows about a set of records.
type sweep struct {
	Scenario  string
	SweepIDs  []string
	Start     time.Time
	End       time.Time
	Simulated bool
	Mixed     bool // some simulated, some measured
	Emulated  bool
	GPUNames  []string
	Target    string

	Points []*pointData // sorted by configuration, then along
	Varied []string     // dimensions with more than one value, in results.DimensionsOf order
	AlongD string       // dimension the load grows along (curves are drawn along it); "" with one point
	Config []string     // varied dimensions that name a configuration
	Colors map[string]color.RGBA
	Shapes map[string]int
	Strat  string // search strategy named by the records, if any
}

// dimAbbrev keeps labels short enough for tick labels and legends.
var dimAbbrev = map[string]string{
	"gpus": "gpu", "instances": "inst", "clients": "cli", "rate": "rate", "batch_size": "batch", "servers": "srv",
}

// dimTitle names a dimension with its unit for axis labels.
var dimTitle = map[string]string{
	"gpus": "GPUs", "instances": "model instances per GPU", "clients": "concurrent clients",
	"rate": "inference rate r", "batch_size": "batch size", "servers": "servers",
}

// abbrev is a dimension's short name: dimAbbrev's, or for a model-config
// field its last path element with microseconds written us
// (max_queue_delay_us).
func abbrev(dim string) string {
	if a, ok := dimAbbrev[dim]; ok {
		return a
	}
	last := dim[strings.LastIndexByte(dim, '.')+1:]
	return strings.ReplaceAll(last, "microseconds", "us")
}

// dimName names a dimension for axis titles: dimTitle's, or a model-config
// field's full path.
func dimName(dim string) string {
	if t, ok := dimTitle[dim]; ok {
		return t
	}
	return dim
}

// alongPreference is the order in which dimensions are preferred as the
// load axis of throughput–latency curves: perf_analyzer sweeps
// concurrency (clients) or request rate.
var alongPreference = []string{"clients", "rate", "batch_size", "instances", "gpus", "servers"}

func coord(p results.Point, dim string) float64 {
	v, err := p.Coord(dim)
	if err != nil {
		return math.NaN()
	}
	return v
}

func fmtCoord(v float64) string { return fmt.Sprintf("%g", v) }

// newSweep folds point records into per-point data. Header records are
// used for the scenario name and environment only.
func newSweep(recs []results.Record) *sweep {
	s := &sweep{Colors: map[string]color.RGBA{}, Shapes: map[string]int{}}
	if h := results.HeaderOf(recs); h != nil {
		s.Target = h.Target
		if h.Env.Emulated {
			s.Emulated = true
		}
		s.GPUNames = slices.Clone(h.Env.GPUs)
		if h.Target == "simulated" {
			s.Simulated = true
		}
	}
	byKey := map[string][]results.Record{}
	var keys []string
	measured := 0
	simulated := 0
	for _, r := range recs {
		if r.Scenario != "" && s.Scenario == "" {
			s.Scenario = r.Scenario
		}
		if r.SweepID != "" && !slices.Contains(s.SweepIDs, r.SweepID) {
			s.SweepIDs = append(s.SweepIDs, r.SweepID)
		}
		if r.Kind == results.KindHeader {
			continue
		}
		if !r.Started.IsZero() && (s.Start.IsZero() || r.Started.Before(s.Start)) {
			s.Start = r.Started
		}
		if r.Finished.After(s.End) {
			s.End = r.Finished
		}
		if r.Env != nil {
			if r.Env.Emulated {
				s.Emulated = true
			}
			// The largest deployment names the GPUs the sweep used.
			if len(r.Env.GPUs) > len(s.GPUNames) {
				s.GPUNames = slices.Clone(r.Env.GPUs)
			}
		}
		if r.Source == results.SourceSimulated {
			simulated++
		} else {
			measured++
		}
		if r.Strategy != "" && s.Strat == "" {
			s.Strat = r.Strategy
		}
		k := r.Point.Key()
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], r)
	}
	if simulated > 0 {
		s.Simulated = true
		s.Mixed = measured > 0
	}
	for _, k := range keys {
		s.Points = append(s.Points, foldPoint(byKey[k]))
	}
	s.classify()
	return s
}

// foldPoint merges the records of one point the way cost.Evaluate does:
// the median over its ok trials, or over its incomplete trials when it has
// no ok one; failed attempts beside a usable trial are retries.
func foldPoint(rs []results.Record) *pointData {
	pd := &pointData{Point: rs[0].Point, Key: rs[0].Point.Key(), Order: math.MaxInt}
	var ok, incomplete []results.Record
	lastFailure := ""
	for _, r := range rs {
		pd.Order = min(pd.Order, r.Order)
		m := r.Measurement
		switch {
		case r.Status == results.StatusFailed || m == nil:
			lastFailure = r.Reason
			if lastFailure == "" && m != nil {
				lastFailure = m.Error
			}
			if lastFailure == "" {
				lastFailure = "no measurement recorded"
			}
		case r.Status == results.StatusIncomplete:
			incomplete = append(incomplete, r)
		default:
			ok = append(ok, r)
		}
	}
	usable := ok
	pd.Status = results.StatusOK
	if len(usable) == 0 {
		usable = incomplete
		pd.Status = results.StatusIncomplete
	}
	pd.Trials = len(usable)
	if len(usable) == 0 {
		pd.Status = results.StatusFailed
		pd.Reason = lastFailure
		return pd
	}
	var tp, p50, p99 []float64
	for _, r := range usable {
		tp = append(tp, r.Measurement.ThroughputIPS)
		p50 = append(p50, r.Measurement.Latency.P50US/1e3)
		p99 = append(p99, r.Measurement.Latency.P99US/1e3)
	}
	pd.Throughput, pd.P50MS, pd.P99MS = stats.Median(tp), stats.Median(p50), stats.Median(p99)
	// The trial with the median throughput stands for the point in the
	// figures that need one trial's series (telemetry, breakdown).
	slices.SortFunc(usable, func(a, b results.Record) int {
		return cmp.Compare(a.Measurement.ThroughputIPS, b.Measurement.ThroughputIPS)
	})
	pd.Measurement = usable[len(usable)/2].Measurement
	if pd.Throughput <= 0 {
		pd.Status = results.StatusFailed
		pd.Reason = "no inference completed in the measured window"
		if e := pd.Measurement.Error; e != "" {
			pd.Reason += ": " + e
		}
		pd.Measurement = nil
	}
	return pd
}

// classify finds the varied dimensions, the load axis and the
// configuration of every point, and assigns colours.
func (s *sweep) classify() {
	var pts []results.Point
	for _, p := range s.Points {
		pts = append(pts, p.Point)
	}
	// A model-config field whose values are names (instance kind) is no
	// axis, but it tells configurations apart.
	cats := results.CategoricalFields(pts)
	for _, p := range s.Points {
		var parts []string
		for _, f := range cats {
			v, _ := p.Point.ConfigValue(f)
			parts = append(parts, abbrev(f)+"="+v)
		}
		p.Cat = strings.Join(parts, " ")
	}
	for _, d := range results.DimensionsOf(pts) {
		seen := map[float64]bool{}
		for _, p := range s.Points {
			seen[coord(p.Point, d)] = true
		}
		if len(seen) > 1 {
			s.Varied = append(s.Varied, d)
		}
	}
	for _, d := range alongPreference {
		if slices.Contains(s.Varied, d) {
			s.AlongD = d
			break
		}
	}
	for _, d := range s.Varied {
		if d != s.AlongD {
			s.Config = append(s.Config, d)
		}
	}
	for _, p := range s.Points {
		var parts, cparts []string
		for _, d := range s.Varied {
			part := abbrev(d) + "=" + fmtCoord(coord(p.Point, d))
			parts = append(parts, part)
			if d != s.AlongD {
				cparts = append(cparts, part)
			}
		}
		if p.Cat != "" {
			parts = append(parts, p.Cat)
			cparts = append(cparts, p.Cat)
		}
		if len(parts) == 0 {
			parts = fixedLabel(p.Point)
		}
		if len(cparts) == 0 {
			cparts = fixedLabel(p.Point)
			if s.AlongD != "" {
				cparts = slices.DeleteFunc(cparts, func(x string) bool {
					return strings.HasPrefix(x, abbrev(s.AlongD)+"=")
				})
			}
			if len(cparts) == 0 {
				cparts = []string{"all points"}
			}
		}
		p.Label = strings.Join(parts, " ")
		p.Config = strings.Join(cparts, " ")
		if s.AlongD != "" {
			p.Along = coord(p.Point, s.AlongD)
		}
	}
	sort.SliceStable(s.Points, func(i, j int) bool {
		a, b := s.Points[i], s.Points[j]
		if a.Cat != b.Cat {
			return a.Cat < b.Cat
		}
		for _, d := range s.Config {
			if ca, cb := coord(a.Point, d), coord(b.Point, d); ca != cb {
				return ca < cb
			}
		}
		return a.Along < b.Along
	})
	for _, c := range s.configs() {
		i := len(s.Colors)
		s.Colors[c] = qualitative[i%len(qualitative)]
		s.Shapes[c] = (i / len(qualitative)) % len(glyphShapes)
	}
}

func (s *sweep) minAlong() float64 {
	m := math.Inf(1)
	for _, p := range s.Points {
		m = math.Min(m, p.Along)
	}
	return m
}

func (s *sweep) maxAlong() float64 {
	m := math.Inf(-1)
	for _, p := range s.Points {
		m = math.Max(m, p.Along)
	}
	return m
}

// fixedLabel names the non-zero coordinates of a point that no dimension
// varies, so that a one-point sweep is still labelled by what it ran.
func fixedLabel(p results.Point) []string {
	var out []string
	for _, d := range results.DimensionsOf([]results.Point{p}) {
		if v := coord(p, d); v != 0 {
			out = append(out, abbrev(d)+"="+fmtCoord(v))
		}
	}
	return out
}

// configs lists configuration labels in sweep order.
func (s *sweep) configs() []string {
	var out []string
	for _, p := range s.Points {
		if !slices.Contains(out, p.Config) {
			out = append(out, p.Config)
		}
	}
	return out
}

// pointsOf returns the points of one configuration, in along order.
func (s *sweep) pointsOf(config string) []*pointData {
	var out []*pointData
	for _, p := range s.Points {
		if p.Config == config {
			out = append(out, p)
		}
	}
	return out
}

// okPoints returns the points with usable figures.
func (s *sweep) okPoints() []*pointData {
	var out []*pointData
	for _, p := range s.Points {
		if p.ok() {
			out = append(out, p)
		}
	}
	return out
}

func (s *sweep) failedPoints() []*pointData {
	var out []*pointData
	for _, p := range s.Points {
		if !p.ok() {
			out = append(out, p)
		}
	}
	return out
}

// pointColor is the configuration's colour, shaded along the load axis
// (lighter = less load) so that points of one configuration stay apart.
func (s *sweep) pointColor(p *pointData) color.RGBA {
	pts := s.pointsOf(p.Config)
	return shade(s.Colors[p.Config], slices.Index(pts, p), len(pts))
}

// provenance is the subtitle every figure carries: scenario, when, and
// whether the figures are simulated or on emulated GPUs.
func (s *sweep) provenance() string {
	var parts []string
	name := s.Scenario
	if name == "" {
		name = "unnamed scenario"
	}
	parts = append(parts, "scenario "+name)
	if !s.Start.IsZero() {
		when := s.Start.UTC().Format("2006-01-02 15:04")
		if !s.End.IsZero() && s.End.Sub(s.Start) > time.Minute {
			if s.End.UTC().Format("2006-01-02") == s.Start.UTC().Format("2006-01-02") {
				when += "–" + s.End.UTC().Format("15:04")
			} else {
				when += " – " + s.End.UTC().Format("2006-01-02 15:04")
			}
		}
		parts = append(parts, when+" UTC")
	}
	if len(s.GPUNames) > 0 {
		parts = append(parts, gpuSummary(s.GPUNames))
	}
	n := len(s.Points)
	failed := len(s.failedPoints())
	pts := fmt.Sprintf("%d points", n)
	if n == 1 {
		pts = "1 point"
	}
	if failed > 0 {
		pts += fmt.Sprintf(" (%d failed)", failed)
	}
	parts = append(parts, pts)
	if len(s.SweepIDs) > 1 {
		parts = append(parts, fmt.Sprintf("%d sweeps merged", len(s.SweepIDs)))
	}
	return strings.Join(parts, " · ")
}

// gpuSummary writes a GPU list compactly: "2× emulated H200".
func gpuSummary(names []string) string {
	var order []string
	count := map[string]int{}
	for _, n := range names {
		if count[n] == 0 {
			order = append(order, n)
		}
		count[n]++
	}
	var parts []string
	for _, n := range order {
		if count[n] > 1 {
			parts = append(parts, fmt.Sprintf("%d× %s", count[n], n))
		} else {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ", ")
}

// tag is what titles append so that no one mistakes simulated or emulated
// figures for measurements on real GPUs.
func (s *sweep) tag() string {
	var tags []string
	switch {
	case s.Mixed:
		tags = append(tags, "PARTLY SIMULATED")
	case s.Simulated:
		tags = append(tags, "SIMULATED")
	}
	if s.Emulated {
		tags = append(tags, "emulated GPUs")
	}
	if len(tags) == 0 {
		return ""
	}
	return " [" + strings.Join(tags, ", ") + "]"
}
