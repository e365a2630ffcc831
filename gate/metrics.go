package gate

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/results"
)

// Better says which direction of a metric is an improvement.
type Better int

const (
	HigherIsBetter Better = iota + 1 // throughput
	LowerIsBetter                    // latency, expense
)

func (b Better) String() string {
	switch b {
	case HigherIsBetter:
		return "higher"
	case LowerIsBetter:
		return "lower"
	}
	return fmt.Sprintf("Better(%d)", int(b))
}

// Metric names, as used in thresholds, rows and output.
const (
	MetricThroughput    = "throughput"
	MetricP50           = "p50"
	MetricP99           = "p99"
	MetricUSDPerMillion = "usd_per_million"
)

// USDPerMillionFunc computes USD per million inferences of one point
// record. hdr is the header of the sweep the record belongs to (matched by
// SweepID, nil when the file has none), so that prices written in the
// scenario can be used.
type USDPerMillionFunc func(hdr *results.Header, rec results.Record) (float64, error)

// Metric is one figure the gate compares.
type Metric struct {
	Name   string
	Unit   string
	Better Better
	// Extract reads the figure from one ok point record.
	Extract func(hdr *results.Header, rec results.Record) (float64, error)
}

var errNoMeasurement = errors.New("record has no measurement")

// Metrics is the table of figures the gate compares, in output order:
// throughput, p50, p99 and, when usd is not nil, usd_per_million.
func Metrics(usd USDPerMillionFunc) []Metric {
	ms := []Metric{
		{Name: MetricThroughput, Unit: "inferences/s", Better: HigherIsBetter,
			Extract: measured(func(m *results.Measurement) float64 { return m.ThroughputIPS })},
		{Name: MetricP50, Unit: "µs", Better: LowerIsBetter,
			Extract: measured(func(m *results.Measurement) float64 { return m.Latency.P50US })},
		{Name: MetricP99, Unit: "µs", Better: LowerIsBetter,
			Extract: measured(func(m *results.Measurement) float64 { return m.Latency.P99US })},
	}
	if usd != nil {
		ms = append(ms, Metric{Name: MetricUSDPerMillion, Unit: "USD/1M inferences", Better: LowerIsBetter,
			Extract: func(hdr *results.Header, rec results.Record) (float64, error) {
				v, err := usd(hdr, rec)
				if err != nil {
					return 0, fmt.Errorf("usd_per_million: %w", err)
				}
				if math.IsNaN(v) || math.IsInf(v, 0) {
					// +Inf: the point served nothing yet costs money.
					return 0, fmt.Errorf("usd_per_million is %v", v)
				}
				return v, nil
			}})
	}
	return ms
}

// MetricNames lists every metric the gate knows, including
// usd_per_million (which needs a cost function to be compared).
func MetricNames() []string {
	return []string{MetricThroughput, MetricP50, MetricP99, MetricUSDPerMillion}
}

func measured(f func(*results.Measurement) float64) func(*results.Header, results.Record) (float64, error) {
	return func(_ *results.Header, rec results.Record) (float64, error) {
		if rec.Measurement == nil {
			return 0, errNoMeasurement
		}
		v := f(rec.Measurement)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("value is %v", v)
		}
		return v, nil
	}
}

func betterOf(metric string) (Better, bool) {
	switch metric {
	case MetricThroughput:
		return HigherIsBetter, true
	case MetricP50, MetricP99, MetricUSDPerMillion:
		return LowerIsBetter, true
	}
	return 0, false
}

// Thresholds maps a metric name to the smallest relative change of its
// median, in the bad direction, that counts as a regression: a signed
// fraction, negative for higher-is-better metrics (throughput -0.05 means
// "a drop of more than 5%") and positive for lower-is-better ones (p99
// +0.10 means "a rise of more than 10%"). The same magnitude in the good
// direction counts as an improvement. A metric absent from the map is
// reported but never gates (its verdict stays "ok").
type Thresholds map[string]float64

// DefaultThresholds: throughput -5%, p99 +10%, usd_per_million +5%; p50
// is reported only.
func DefaultThresholds() Thresholds {
	return Thresholds{MetricThroughput: -0.05, MetricP99: 0.10, MetricUSDPerMillion: 0.05}
}

// ParseThresholds reads per-metric thresholds such as
// {"throughput": "-5%", "p99": "+10%"} on top of DefaultThresholds (so
// naming one metric keeps the others' defaults). A value without a sign
// ("10%") applies in the metric's bad direction; a sign pointing the
// other way is an error; "off" stops the metric from gating. Errors name
// the metric.
func ParseThresholds(spec map[string]string) (Thresholds, error) {
	out := DefaultThresholds()
	names := make([]string, 0, len(spec))
	for k := range spec {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic first error
	for _, name := range names {
		b, ok := betterOf(name)
		if !ok {
			return nil, fmt.Errorf("threshold for unknown metric %q (want one of %s)", name, strings.Join(MetricNames(), ", "))
		}
		s := strings.TrimSpace(spec[name])
		if strings.EqualFold(s, "off") {
			delete(out, name)
			continue
		}
		v, err := parseThreshold(name, b, s)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

func parseThreshold(name string, b Better, s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, fmt.Errorf("threshold %s=%q: want a percentage such as %q", name, s, example(b))
	}
	signed := strings.HasPrefix(num, "+") || strings.HasPrefix(num, "-")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("threshold %s=%q: want a percentage such as %q", name, s, example(b))
	}
	v /= 100
	if !signed {
		if b == HigherIsBetter {
			v = -v
		}
		return v, nil
	}
	if (b == HigherIsBetter && v > 0) || (b == LowerIsBetter && v < 0) {
		return 0, fmt.Errorf("threshold %s=%q points the improving way: %s is better %s, write %q",
			name, s, name, b, example(b))
	}
	return v, nil
}

func example(b Better) string {
	if b == HigherIsBetter {
		return "-5%"
	}
	return "+10%"
}
