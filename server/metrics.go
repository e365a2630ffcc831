package server

import (
	"bufio"
	"fmt"
	"net/http"
	"sort"
)

// serveMetrics writes Triton's Prometheus metrics (same names and labels)
// for every loaded model version, and nv_gpu_* gauges for emulated GPUs,
// labelled emulated="true" so nobody takes them for a real device.
func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	type row struct {
		model, version string
		st             *modelStats
		pending        int64
	}
	s.mu.RLock()
	var rows []row
	for n, e := range s.models {
		for _, mv := range e.versions {
			rows = append(rows, row{n, mv.version, mv.stats, mv.rt.pending.Load()})
		}
	}
	s.mu.RUnlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].model+"/"+rows[i].version < rows[j].model+"/"+rows[j].version })
	metric := func(name, typ, help string, val func(row) float64) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, r := range rows {
			fmt.Fprintf(bw, "%s{model=%q,version=%q} %g\n", name, r.model, r.version, val(r))
		}
	}
	us := func(d *durStat) float64 { return float64(d.ns.Load()) / 1e3 }
	metric("nv_inference_request_success", "counter", "Number of successful inference requests, all batch sizes", func(r row) float64 { return float64(r.st.success.count.Load()) })
	metric("nv_inference_request_failure", "counter", "Number of failed inference requests, all batch sizes", func(r row) float64 { return float64(r.st.fail.count.Load()) })
	metric("nv_inference_count", "counter", "Number of inferences performed (does not include cached requests)", func(r row) float64 { return float64(r.st.inferenceCount.Load()) })
	metric("nv_inference_exec_count", "counter", "Number of model executions performed (does not include cached requests)", func(r row) float64 { return float64(r.st.executionCount.Load()) })
	metric("nv_inference_request_duration_us", "counter", "Cumulative inference request duration in microseconds (includes cached requests)", func(r row) float64 { return us(&r.st.success) })
	metric("nv_inference_queue_duration_us", "counter", "Cumulative inference queuing duration in microseconds (includes cached requests)", func(r row) float64 { return us(&r.st.queue) })
	metric("nv_inference_compute_input_duration_us", "counter", "Cumulative compute input duration in microseconds (does not include cached requests)", func(r row) float64 { return us(&r.st.computeInput) })
	metric("nv_inference_compute_infer_duration_us", "counter", "Cumulative compute inference duration in microseconds (does not include cached requests)", func(r row) float64 { return us(&r.st.computeInfer) })
	metric("nv_inference_compute_output_duration_us", "counter", "Cumulative inference compute output duration in microseconds (does not include cached requests)", func(r row) float64 { return us(&r.st.computeOutput) })
	metric("nv_inference_pending_request_count", "gauge", "Instantaneous number of pending requests awaiting execution per-model.", func(r row) float64 { return float64(r.pending) })
	s.inflight.writeMetrics(bw)
	if len(s.devices) == 0 {
		return
	}
	gpuMetric := func(name, typ, help string, val func(*gpu) float64) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, d := range s.devices {
			fmt.Fprintf(bw, "%s{gpu_uuid=%q,emulated=\"true\"} %g\n", name, d.uuid, val(d))
		}
	}
	gpuMetric("nv_gpu_utilization", "gauge", "GPU utilization rate [0.0 - 1.0) (emulated device: busy fraction over the last 100 ms)", func(d *gpu) float64 { return bitsFloat(d.util.Load()) })
	gpuMetric("nv_gpu_busy_seconds_total", "counter", "Cumulative busy time of the emulated GPU in seconds (iaasbench extension)", func(d *gpu) float64 { return float64(d.busyNS.Load()) / 1e9 })
	gpuMetric("nv_gpu_executions_total", "counter", "Calls executed on the emulated GPU (iaasbench extension)", func(d *gpu) float64 { return float64(d.calls.Load()) })
	// Memory only where a device profile gives figures: an emulated device
	// has no memory of its own to read.
	used, known := s.deviceMemory()
	header := false
	for i, d := range s.devices {
		if !known[i] {
			continue
		}
		if !header {
			fmt.Fprintf(bw, "# HELP nv_gpu_memory_used_bytes GPU used memory, in bytes (emulated device: from the device profile's memory figures and the instances placed on it)\n# TYPE nv_gpu_memory_used_bytes gauge\n")
			header = true
		}
		fmt.Fprintf(bw, "nv_gpu_memory_used_bytes{gpu_uuid=%q,emulated=\"true\"} %g\n", d.uuid, used[i])
	}
}
