package telemetry

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseTextTriton(t *testing.T) {
	f, err := os.Open("testdata/triton-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples, err := ParseText(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 31 {
		t.Errorf("%d samples, want 31 (every non-comment line)", len(samples))
	}
	check := func(name string, match map[string]string, want float64) {
		t.Helper()
		s, ok := Find(samples, name, match)
		if !ok {
			t.Errorf("%s%v not found", name, match)
			return
		}
		if s.Value != want && !(math.IsNaN(want) && math.IsNaN(s.Value)) {
			t.Errorf("%s%v = %g, want %g", name, match, s.Value, want)
		}
	}
	check("nv_inference_request_success", map[string]string{"model": "mlp", "version": "1"}, 62500)
	check("nv_inference_request_failure", map[string]string{"reason": "REJECTED"}, 3)
	check("nv_inference_request_duration_us", map[string]string{"model": "mlp"}, 1.2034567e7)
	check("nv_inference_first_response_histogram_ms_bucket", map[string]string{"le": "+Inf"}, 62500)
	check("nv_inference_request_summary_us", map[string]string{"quantile": "0.99"}, math.NaN())
	check("nv_gpu_utilization", map[string]string{"emulated": "true"}, 0.21)
	check("nv_gpu_utilization", map[string]string{"gpu_uuid": "GPU-5f1a7c3e-2b9d-4e6f-8a1b-0c2d3e4f5a6b"}, 0.13)
	check("nv_cpu_memory_total_bytes", nil, 1.37438953472e11)
	check("odd_metric", map[string]string{"trailing": "yes"}, math.Inf(-1))
	if s, _ := Find(samples, "odd_metric", nil); s.Labels["path"] != "C:\\models\\\"mlp\"\nv2" {
		t.Errorf("escaped label value = %q", s.Labels["path"])
	}
	if s, _ := Find(samples, "nv_cpu_utilization", nil); s.Labels != nil && len(s.Labels) != 0 {
		t.Errorf("unlabelled metric got labels %v", s.Labels)
	}
	if _, ok := Find(samples, "nv_gpu_utilization", map[string]string{"gpu_uuid": "nope"}); ok {
		t.Error("Find matched a label value that is not there")
	}
}

func TestParseTextErrorsNameLine(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"ok 1\n{x=\"1\"} 2\n", "line 2: "},
		{"a 1\nb 2\nm{x=\"1\" 3\n", "line 3: metric m"},
		{"m{x=1} 3\n", "quoted value"},
		{"m{x=\"1\",x=\"2\"} 3\n", "repeated"},
		{"m{x=\"\\q\"} 3\n", "bad escape"},
		{"m abc\n", "value"},
		{"m 1 2 3\n", "want `value [timestamp]`"},
		{"m 1 1.5\n", "timestamp"},
		{"m\n", "want `value [timestamp]`"},
	} {
		_, err := ParseText(strings.NewReader(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseText(%q) error %v, want one containing %q", c.text, err, c.want)
		}
	}
}

// tritonServer serves a Triton-like /metrics whose utilization and energy
// change with each scrape.
func tritonServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		k := n.Add(1)
		fmt.Fprintf(w, "# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)\n# TYPE nv_gpu_utilization gauge\n")
		fmt.Fprintf(w, "nv_gpu_utilization{emulated=\"true\",gpu_uuid=\"GPU-emu-0\"} 0.25\n")
		fmt.Fprintf(w, "nv_gpu_utilization{emulated=\"true\",gpu_uuid=\"GPU-emu-1\"} 0.75\n")
		fmt.Fprintf(w, "nv_gpu_power_usage{emulated=\"true\",gpu_uuid=\"GPU-emu-0\"} 100\n")
		fmt.Fprintf(w, "nv_energy_consumption{emulated=\"true\",gpu_uuid=\"GPU-emu-0\"} %d\n", 10*k)
		fmt.Fprintf(w, "nv_gpu_memory_used_bytes{emulated=\"true\",gpu_uuid=\"GPU-emu-0\"} 1048576\n")
		fmt.Fprintf(w, "nv_inference_count{model=\"mlp\",version=\"1\"} %d\n", 8*k)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestPrometheusScraper(t *testing.T) {
	srv, scrapes := tritonServer(t)
	p := NewPrometheus(srv.URL+"/metrics", 5*time.Millisecond)
	p.Start(context.Background(), time.Now())
	waitFor(t, func() bool { return scrapes.Load() >= 4 })
	if u := p.Current(); !u.GPU || u.GPUPct != 50 {
		t.Errorf("Current() = %+v, want GPU 50%% (mean of 0.25 and 0.75)", u)
	}
	series, notes := p.Stop()
	if len(notes) != 0 {
		t.Errorf("unexpected notes %v", notes)
	}
	byName := map[string]int{}
	for _, s := range series {
		byName[s.Name]++
		if s.Labels["source"] != "prometheus" || s.Labels["emulated"] != "true" || !strings.HasPrefix(s.Labels["gpu_uuid"], "GPU-emu-") {
			t.Errorf("%s labels %v: want source, emulated and gpu_uuid copied", s.Name, s.Labels)
		}
		if len(s.T) != len(s.V) || len(s.V) < 4 {
			t.Errorf("%s: %d times, %d values, want ≥ 4 points", s.Name, len(s.T), len(s.V))
		}
		for i := 1; i < len(s.T); i++ {
			if s.T[i] < s.T[i-1] {
				t.Errorf("%s: times not increasing: %v", s.Name, s.T)
				break
			}
		}
	}
	want := map[string]int{"nv_gpu_utilization": 2, "nv_gpu_power_usage": 1, "nv_energy_consumption": 1, "nv_gpu_memory_used_bytes": 1}
	for name, n := range want {
		if byName[name] != n {
			t.Errorf("%d series named %s, want %d", byName[name], name, n)
		}
	}
	if byName["nv_inference_count"] != 0 {
		t.Error("a metric not asked for was kept")
	}
	for _, s := range series {
		if s.Name == "nv_gpu_utilization" && s.Unit != "ratio" {
			t.Errorf("nv_gpu_utilization unit %q, want ratio", s.Unit)
		}
		if s.Name == "nv_gpu_utilization" && s.Labels["gpu_uuid"] == "GPU-emu-1" && s.V[0] != 0.75 {
			t.Errorf("utilization stored as %g, want Triton's 0.75 as is", s.V[0])
		}
	}
	sum := Summarize(series)
	if sum.GPUUtilMean != 50 || sum.GPUUtilMax != 75 || sum.PowerMeanW != 100 {
		t.Errorf("summary from Prometheus fallback: %+v", sum)
	}
	var e []float64
	for _, s := range series {
		if s.Name == "nv_energy_consumption" {
			e = s.V
		}
	}
	if sum.EnergyJ != e[len(e)-1]-e[0] || sum.EnergyJ <= 0 {
		t.Errorf("EnergyJ %g, want last-first of %v", sum.EnergyJ, e)
	}
}

func TestPrometheusUnreachableIsANote(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/metrics"
	srv.Close() // nothing listens there any more
	p := NewPrometheus(url, 5*time.Millisecond)
	p.Start(context.Background(), time.Now())
	time.Sleep(30 * time.Millisecond)
	series, notes := p.Stop()
	if len(series) != 0 {
		t.Errorf("series from an unreachable endpoint: %v", series)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "unreachable") || !strings.Contains(notes[0], url) {
		t.Errorf("notes %q, want one note naming the unreachable %s", notes, url)
	}
	if u := p.Current(); u.GPU || u.CPU {
		t.Errorf("Current() %+v from an unreachable endpoint", u)
	}
}

func TestPrometheusBadStatusIsANote(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	p := NewPrometheus(srv.URL+"/metrics", time.Hour)
	p.Start(context.Background(), time.Now())
	_, notes := p.Stop()
	if len(notes) != 1 || !strings.Contains(notes[0], "404") {
		t.Errorf("notes %q, want one note on HTTP 404", notes)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}
