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
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"measure"}, c.args...), &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q, want an error saying %q", c.args, code, stderr.String(), c.want)
		}
	}
}
