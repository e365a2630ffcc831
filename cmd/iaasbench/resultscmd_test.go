package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
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
	if err := writeResultsCSV(&out, recs); err != nil {
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
