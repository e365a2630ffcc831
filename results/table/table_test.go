package table

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
)

// The CSV carries the emulated GPUs' call durations where a point recorded
// them, and leaves the columns empty where it did not.
func TestResultsCSVShowsDeviceCalls(t *testing.T) {
	h := hist.New()
	for i := range 1000 {
		h.Record(int64(1400*time.Microsecond + time.Duration(i)*time.Microsecond))
	}
	dc := h.ToResults()
	recs := []results.Record{
		{Status: results.StatusOK, Point: results.Point{GPUs: 1}, Measurement: &results.Measurement{DeviceCalls: &dc}},
		{Status: results.StatusOK, Point: results.Point{GPUs: 0}, Measurement: &results.Measurement{}},
	}
	var out bytes.Buffer
	if err := WriteCSV(&out, recs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	get := func(row int, name string) string {
		i, ok := col[name]
		if !ok {
			t.Fatalf("no column %q in %v", name, rows[0])
		}
		return rows[row][i]
	}
	// Calls of 1400–2399 µs: p50 ≈ 1900, p99 ≈ 2390 (the histogram keeps ~0.5%).
	for name, want := range map[string]float64{"device_call_p50_us": 1900, "device_call_p99_us": 2390} {
		var got float64
		if _, err := fmt.Sscan(get(1, name), &got); err != nil || got < 0.99*want || got > 1.01*want {
			t.Errorf("%s = %q, want ≈ %.0f", name, get(1, name), want)
		}
	}
	if got := get(2, "device_call_p50_us"); got != "" {
		t.Errorf("a point without device calls shows %q, want empty", got)
	}
}

// The text table shows the columns with a short name, in order, and the
// same values as the CSV.
func TestTextShowsTheShortColumns(t *testing.T) {
	recs := []results.Record{{Status: results.StatusOK, Trial: 2, Source: results.SourceMeasured,
		Point: results.Point{GPUs: 4, Instances: 2, Clients: 8, Rate: 1, BatchSize: 8, Servers: 1},
		Measurement: &results.Measurement{ThroughputIPS: 12345.678, Latency: results.LatencySummary{P50US: 1500, P90US: 1800, P99US: 2500},
			Telemetry: &results.Telemetry{GPUUtilMean: 97.5, CPUUtilMean: 60}}}}
	var out bytes.Buffer
	if err := WriteText(&out, recs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want a header and a row:\n%s", len(lines), out.String())
	}
	want := "gpus inst clients rate batch servers trial status inf/s rej % p50 ms p99 ms gpu % cpu % reason"
	if got := strings.Join(strings.Fields(lines[0]), " "); got != want {
		t.Errorf("header %q, want %q", got, want)
	}
	want = "4 2 8 1 8 1 2 ok 12345.678 0.000 1.500 2.500 97.500 60.000"
	if got := strings.Join(strings.Fields(lines[1]), " "); got != want {
		t.Errorf("row %q, want %q", got, want)
	}
}

// A point the server partly refused shows its offered load and rejection
// rate beside its goodput, in the CSV and in the text table.
func TestRejectionsShown(t *testing.T) {
	recs := []results.Record{{Status: results.StatusOK, Measurement: &results.Measurement{
		ThroughputIPS: 300, OfferedRPS: 400, RejectedRPS: 100, RejectionRate: 0.25}}}
	var out bytes.Buffer
	if err := WriteCSV(&out, recs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, name := range rows[0] {
		got[name] = rows[1][i]
	}
	if got["offered_rps"] != "400.000" || got["rejected_rps"] != "100.000" || got["rejection_pct"] != "25.000" || got["throughput_ips"] != "300.000" {
		t.Errorf("CSV row %v", got)
	}
	out.Reset()
	if err := WriteText(&out, recs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "25.000") {
		t.Errorf("text table does not show the rejection rate:\n%s", out.String())
	}
}
