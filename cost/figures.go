package cost

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/results"
)

// unitKind says how a figure's values are written and which units a
// constraint on it may use.
type unitKind int

const (
	unitLatency unitKind = iota // milliseconds; us, µs, ms, s accepted
	unitRate                    // per second; /s, /min, /h accepted
	unitRatio                   // dimensionless (data_rate: seconds of data per second)
	unitPercent                 // 0–100; % accepted
	unitUSD                     // US dollars; a leading $ accepted
	unitCount                   // a plain count
	unitMemory                  // megabytes (10^6 bytes, Model Analyzer's MB); MB, GB, MiB, GiB accepted
	unitPower                   // watts; W accepted
)

type figureInfo struct {
	unit unitKind
	// higherBetter figures are maximised by an objective and by Pareto.
	higherBetter bool
}

// FigureNames lists every figure a point has, in display order. Latencies
// are in milliseconds, rates per second, utilisations in percent (0–100),
// expense in USD.
//
//	throughput         inferences per second (goodput: successful requests only)
//	throughput_rps     requests per second (goodput)
//	p50 p90 p95 p99 p999 mean max   client latency, ms
//	data_rate          seconds of stream data processed per second (0 if not a stream)
//	gpu_util cpu_util  mean utilisation, % (absent without telemetry)
//	usd_per_hour usd_per_million usd_per_data_hour   see Expense
//	errors             failed requests in the measured window
//	rejection_rate     requests the server refused for overload, % of those offered
//	server_queue server_compute_input server_compute_infer server_compute_output
//	                   server-side time per request, ms (from the server's statistics)
//	gpu_used_memory    GPU memory in use, MB: the most on each GPU over the
//	                   measurement, summed over GPUs (Model Analyzer's definition)
//	gpu_free_memory    GPU memory not in use, MB (where the total is known)
//	gpu_power          GPU power draw, W, summed over GPUs
//
// Model Analyzer's metric tags name the same figures (see ModelAnalyzerNames).
var FigureNames = []string{
	"throughput", "throughput_rps",
	"p50", "p90", "p95", "p99", "p999", "mean", "max",
	"data_rate", "gpu_util", "cpu_util",
	"usd_per_hour", "usd_per_million", "usd_per_data_hour",
	"errors", "rejection_rate",
	"server_queue", "server_compute_input", "server_compute_infer", "server_compute_output",
	"gpu_used_memory", "gpu_free_memory", "gpu_power",
}

var figureTable = map[string]figureInfo{
	"throughput":        {unitRate, true},
	"throughput_rps":    {unitRate, true},
	"p50":               {unitLatency, false},
	"p90":               {unitLatency, false},
	"p95":               {unitLatency, false},
	"p99":               {unitLatency, false},
	"p999":              {unitLatency, false},
	"mean":              {unitLatency, false},
	"max":               {unitLatency, false},
	"data_rate":         {unitRatio, true},
	"gpu_util":          {unitPercent, true},
	"cpu_util":          {unitPercent, true},
	"usd_per_hour":      {unitUSD, false},
	"usd_per_million":   {unitUSD, false},
	"usd_per_data_hour": {unitUSD, false},
	"errors":            {unitCount, false},
	"rejection_rate":    {unitPercent, false},

	"server_queue":          {unitLatency, false},
	"server_compute_input":  {unitLatency, false},
	"server_compute_infer":  {unitLatency, false},
	"server_compute_output": {unitLatency, false},
	"gpu_used_memory":       {unitMemory, false},
	"gpu_free_memory":       {unitMemory, true},
	"gpu_power":             {unitPower, false},
}

// expenseFigures are computed from prices, not fitted.
func isExpenseFigure(name string) bool { return strings.HasPrefix(name, "usd_") }

func unknownFigure(name string) error {
	if near := nearestFigure(name); near != "" {
		return fmt.Errorf("unknown figure %q (did you mean %q?)", name, near)
	}
	return fmt.Errorf("unknown figure %q (want one of %s; or a Model Analyzer name: %s)", name, strings.Join(FigureNames, ", "), strings.Join(modelAnalyzerTags(), ", "))
}

// nearestFigure is the figure or tag a misspelt name most likely meant,
// or "" when none is close.
func nearestFigure(name string) string {
	best, bestD := "", len(name)/4+1
	for _, cand := range append(slices.Clone(FigureNames), modelAnalyzerTags()...) {
		if d := editDistance(name, cand); d < bestD {
			best, bestD = cand, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Figure returns one named figure of a record (see FigureNames for names
// and units). exp is the record's Expense (ExpenseOf). It is an error when
// the record does not have the figure: no measurement, no latency
// recorded, no telemetry for a utilisation, no data rate for
// usd_per_data_hour.
func Figure(rec results.Record, exp Expense, name string) (float64, error) {
	name, ok := CanonicalFigure(name)
	if !ok {
		return 0, unknownFigure(name)
	}
	m := rec.Measurement
	if m == nil {
		return 0, fmt.Errorf("%s of point %s: %w", name, rec.Point, errNoMeasurement)
	}
	lat := m.Latency
	latency := func(us float64) (float64, error) {
		if lat == (results.LatencySummary{}) {
			return 0, fmt.Errorf("%s of point %s: no latency recorded", name, rec.Point)
		}
		return us / 1e3, nil
	}
	util := func(pct func(*results.Telemetry) float64) (float64, error) {
		if m.Telemetry == nil {
			return 0, fmt.Errorf("%s of point %s: no telemetry", name, rec.Point)
		}
		return pct(m.Telemetry), nil
	}
	switch name {
	case "throughput":
		return m.ThroughputIPS, nil
	case "throughput_rps":
		return m.ThroughputRPS, nil
	case "p50":
		return latency(lat.P50US)
	case "p90":
		return latency(lat.P90US)
	case "p95":
		return latency(lat.P95US)
	case "p99":
		return latency(lat.P99US)
	case "p999":
		return latency(lat.P999US)
	case "mean":
		return latency(lat.MeanUS)
	case "max":
		return latency(lat.MaxUS)
	case "data_rate":
		return m.DataRate, nil
	case "gpu_util":
		return util(func(t *results.Telemetry) float64 { return t.GPUUtilMean })
	case "cpu_util":
		return util(func(t *results.Telemetry) float64 { return t.CPUUtilMean })
	case "usd_per_hour":
		return exp.USDPerHour, nil
	case "usd_per_million":
		return exp.USDPerMillion, nil
	case "usd_per_data_hour":
		if m.DataRate <= 0 {
			return 0, fmt.Errorf("%s of point %s: no data rate (not a stream workload)", name, rec.Point)
		}
		return exp.USDPerDataHour, nil
	case "errors":
		return float64(m.Errors), nil
	case "rejection_rate":
		return 100 * m.RejectionRate, nil
	case "server_queue", "server_compute_input", "server_compute_infer", "server_compute_output":
		b := m.Server
		if b == nil || b.RequestCount == 0 {
			return 0, fmt.Errorf("%s of point %s: no server statistics recorded", name, rec.Point)
		}
		us := map[string]float64{"server_queue": b.QueueUS, "server_compute_input": b.ComputeInputUS,
			"server_compute_infer": b.ComputeInferUS, "server_compute_output": b.ComputeOutputUS}[name]
		return us / 1e3, nil
	case "gpu_used_memory", "gpu_free_memory":
		t := m.Telemetry
		if t == nil || t.GPUMemorySource == "" {
			return 0, fmt.Errorf("%s of point %s: no GPU memory recorded (no NVML, no server metrics, no device profile with memory)", name, rec.Point)
		}
		if name == "gpu_used_memory" {
			return t.GPUUsedMemoryMB, nil
		}
		if t.GPUTotalMemoryMB <= 0 {
			return 0, fmt.Errorf("%s of point %s: the GPUs' total memory is not known (%s)", name, rec.Point, t.GPUMemorySource)
		}
		return t.GPUTotalMemoryMB - t.GPUUsedMemoryMB, nil
	case "gpu_power":
		if m.Telemetry == nil || m.Telemetry.PowerMeanW <= 0 {
			return 0, fmt.Errorf("%s of point %s: no GPU power recorded", name, rec.Point)
		}
		return m.Telemetry.PowerMeanW, nil
	}
	return 0, unknownFigure(name) // unreachable: the table and the switch agree
}

// formatFigure writes a figure's value with its display unit, e.g.
// "41.2ms", "15000/s", "45%".
func formatFigure(name string, v float64) string {
	s := formatNumber(v)
	switch figureTable[name].unit {
	case unitLatency:
		return s + "ms"
	case unitRate:
		return s + "/s"
	case unitPercent:
		return s + "%"
	case unitUSD:
		return "$" + s
	case unitMemory:
		return s + "MB"
	case unitPower:
		return s + "W"
	}
	return s
}

// formatNumber keeps three significant digits below 1000 and whole
// numbers above, which reads well for latencies, rates and prices.
func formatNumber(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) || v == 0 {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	a := math.Abs(v)
	if a >= 1000 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	if a < 1e-4 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	k := 2 - int(math.Floor(math.Log10(a)))
	scale := math.Pow(10, float64(k))
	return strconv.FormatFloat(math.Round(v*scale)/scale, 'f', -1, 64)
}
