package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iaasbench/iaasbench/results"
)

// Metric is a gauge the Prometheus scraper keeps, with its unit.
type Metric struct {
	Name string
	Unit string
}

// TritonMetrics are the gauges of Triton's /metrics that the scraper keeps
// by default, with Triton's units: values are stored as Triton reports
// them (utilization as a 0..1 ratio, not a percentage).
var TritonMetrics = []Metric{
	{"nv_gpu_utilization", "ratio"},
	{"nv_gpu_memory_used_bytes", "bytes"},
	{"nv_gpu_memory_total_bytes", "bytes"},
	{"nv_gpu_power_usage", "W"},
	{"nv_energy_consumption", "J"},
	{"nv_cpu_utilization", "ratio"},
}

// Prometheus scrapes a Prometheus text endpoint, such as Triton's
// http://127.0.0.1:8002/metrics, and keeps chosen gauges as series.
type Prometheus struct {
	url      string
	interval time.Duration
	metrics  map[string]string // name → unit
	client   *http.Client
	loop     loop
	series   seriesSet
	notes    noteSet
	gpuUtil  gauge
	cpuUtil  gauge

	log    *slog.Logger // where a scrape that keeps failing is said; nil: notes only
	fails  int          // consecutive failed scrapes
	warned bool
}

// failuresToWarn is how many scrapes in a row must fail before the
// scraper says so on its logger: one failure is a blip, three at the
// sampling interval are an endpoint that is not there.
const failuresToWarn = 3

// MetricsURL reads a Prometheus endpoint's address: a URL, or
// perf_analyzer's scheme-less form (localhost:8002/metrics, http assumed);
// a URL without a path gets /metrics, as Triton serves it.
func MetricsURL(s string) (string, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return "", fmt.Errorf("empty metrics URL")
	}
	full := raw
	if !strings.Contains(raw, "://") {
		full = "http://" + raw
	}
	u, err := url.Parse(full)
	if err != nil {
		return "", fmt.Errorf("metrics URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("metrics URL %q: scheme %q, want http:// or https:// (or host:port/metrics)", raw, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("metrics URL %q has no host", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("metrics URL %q holds credentials, which would be recorded with the results", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/metrics"
	}
	return u.String(), nil
}

// WarnTo makes the scraper say on log, once, when scrapes keep failing,
// with the reason, beside the note it records with the telemetry.
func (s *Prometheus) WarnTo(log *slog.Logger) *Prometheus {
	s.log = log
	return s
}

// NewPrometheus returns a scraper of url keeping metrics (TritonMetrics
// when none are given); interval ≤ 0 means DefaultInterval.
func NewPrometheus(url string, interval time.Duration, metrics ...Metric) *Prometheus {
	if len(metrics) == 0 {
		metrics = TritonMetrics
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	m := map[string]string{}
	for _, x := range metrics {
		m[x.Name] = x.Unit
	}
	// A scrape must not outlive a few intervals, or a hung endpoint would
	// stall the final sample at Stop.
	return &Prometheus{url: url, interval: interval, metrics: m,
		client: &http.Client{Timeout: max(2*interval, time.Second)}}
}

// Name implements Sampler.
func (s *Prometheus) Name() string { return "prometheus" }

// Current implements Sampler: Triton's mean GPU utilization (as a
// percentage) and its CPU utilization at the latest scrape.
func (s *Prometheus) Current() Utilization {
	var u Utilization
	u.GPUPct, u.GPU = s.gpuUtil.get()
	u.CPUPct, u.CPU = s.cpuUtil.get()
	return u
}

// Start implements Sampler. An unreachable endpoint is noted, not fatal.
func (s *Prometheus) Start(ctx context.Context, t0 time.Time) {
	if s.loop.done != nil {
		s.notes.add("Prometheus scraper started twice; second start ignored")
		return
	}
	s.loop.start(ctx, t0, s.interval, s.sample)
}

// Stop implements Sampler.
func (s *Prometheus) Stop() ([]results.Series, []string) {
	s.loop.stop()
	return s.series.list(), s.notes.list()
}

func (s *Prometheus) sample(ctx context.Context, t float64) {
	samples, err := s.scrape(ctx)
	if err != nil && ctx.Err() != nil {
		return // cut short by Stop or by the caller: not a fault of the endpoint
	}
	if err != nil {
		s.notes.add("Prometheus metrics at %s: %v; scrape skipped", s.url, err)
		s.fails++
		if s.fails >= failuresToWarn && s.log != nil && !s.warned {
			s.warned = true
			s.log.Warn("Prometheus metrics keep failing: the server's own telemetry (GPU utilization, power, energy) will be missing from this measurement",
				"url", s.url, "failures", s.fails, "err", err)
		}
		return
	}
	s.fails = 0
	var gpuSum float64
	var gpuN int
	for _, x := range samples {
		unit, ok := s.metrics[x.Name]
		if !ok {
			continue
		}
		labels := maps.Clone(x.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels["source"] = "prometheus"
		s.series.add(x.Name, unit, labels, t, x.Value)
		switch x.Name {
		case "nv_gpu_utilization":
			gpuSum += x.Value
			gpuN++
		case "nv_cpu_utilization":
			s.cpuUtil.set(100 * x.Value)
		}
	}
	if gpuN > 0 {
		s.gpuUtil.set(100 * gpuSum / float64(gpuN))
	}
}

func (s *Prometheus) scrape(ctx context.Context) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	return ParseText(resp.Body)
}
