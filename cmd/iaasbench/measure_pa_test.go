package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results/pacsv"
)

// A perf_analyzer-style range against the embedded server measures one
// point per value, prints perf_analyzer's summary and writes its CSV with
// one row per value; run again, it resumes (measures nothing).
func TestMeasureConcurrencyRange(t *testing.T) {
	dir := t.TempDir()
	csvPath, res := filepath.Join(dir, "pa.csv"), filepath.Join(dir, "r.jsonl")
	args := []string{"measure", "-m", "mlp", "-b", "2", "--concurrency-range", "1:2", "-f", csvPath, "--results", res,
		"--warmup", "0", "--duration", "150ms", "-p", "50", "--no-telemetry", "--progress", "off"}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"Inferences/Second vs. Client Average Batch Latency", "Concurrency: 1, throughput:", "Concurrency: 2, throughput:", "2 measured"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("csv has %d lines, want a header and 2 rows: %v", len(rows), rows)
	}
	if got, want := strings.Join(rows[0], ","), strings.Join(pacsv.Header(pacsv.Options{}), ","); got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	loads := map[string]bool{rows[1][0]: true, rows[2][0]: true}
	if !loads["1"] || !loads["2"] {
		t.Errorf("first column %q and %q, want 1 and 2", rows[1][0], rows[2][0])
	}
	stdout.Reset()
	if code := run(args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "0 measured, 0 failed, 2 already there") {
		t.Errorf("second run: exit %d, stdout:\n%s", code, stdout.String())
	}
}

// A concurrency search with end 0 stops at the first concurrency whose
// latency reaches -l: the calibrated model runs one request at a time
// for about 1 ms, so concurrency N waits about N ms and 4 ms is reached
// by concurrency 4 at the latest, well before the cap.
func TestMeasureLatencyThresholdSearch(t *testing.T) {
	dir := t.TempDir()
	csvPath, res := filepath.Join(dir, "pa.csv"), filepath.Join(dir, "r.jsonl")
	args := []string{"measure", "-m", "calibrated", "--concurrency-range", "1:0:1", "-l", "4", "-f", csvPath, "--results", res,
		"--warmup", "0", "--duration", "150ms", "-p", "50", "--no-telemetry", "--progress", "off"}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "mean latency") || !strings.Contains(stdout.String(), "reached the threshold of 4 ms") {
		t.Errorf("stdout lacks the reason the search stopped:\n%s", stdout.String())
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The header, then the concurrencies under the threshold.
	if n := len(rows) - 1; n < 1 || n >= 4 {
		t.Fatalf("%d rows, want 1 to 3:\n%v\nstdout:\n%s", n, rows, stdout.String())
	}
}

func TestMeasureFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--concurrency-range", "4:1"}, "below start"},
		{[]string{"--concurrency-range", "1:2", "--request-rate-range", "1:2"}, "give one"},
		{[]string{"-i", "tcp"}, "want grpc or http"},
		{[]string{"-i", "grpc", "-u", "http://127.0.0.1:1"}, "says http"},
		{[]string{"--measurement-mode", "windows"}, "time_windows or count_windows"},
		{[]string{"--input-data", "/nonexistent.json", "-u", "127.0.0.1:1"}, "input data"},
		{[]string{"--concurrency-range", "1:0"}, "end 0 searches up to the latency threshold: give -l/--latency-threshold"},
		{[]string{"--concurrency-range", "1:0", "-l", "5", "--binary-search"}, "a binary search needs the end of the range"},
		{[]string{"--request-rate-range", "10:100:10", "--binary-search"}, "--binary-search looks for the largest value under the latency threshold"},
		{[]string{"-l", "5"}, "search a range: give --concurrency-range or --request-rate-range"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"measure"}, c.args...), &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q, want an error saying %q", c.args, code, stderr.String(), c.want)
		}
	}
}
