package main

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

// update rewrites the golden files of the cmd tests: go test ./cmd/iaasbench -run Golden -update
var update = flag.Bool("update", false, "rewrite cmd/iaasbench/testdata golden files")

// The cost command's output on a fixed quickstart results file (trimmed
// of telemetry series and histograms), under the file's own cost model,
// other prices, another latency budget, and an impossible constraint.
func TestCostGolden(t *testing.T) {
	const results = "testdata/cost/quickstart.jsonl"
	for _, tc := range []struct {
		golden  string
		args    []string
		wantErr string
	}{
		{"default", nil, ""},
		{"cheap-gpus", []string{"--price", "gpu_hour=0.2", "--price", "node_hour=4"}, ""},
		{"budget-1ms", []string{"--constraint", "perf_latency_p99 <= 1"}, ""},
		{"objective-throughput", []string{"--objective", "perf_throughput", "--constraint", "none"}, ""},
		{"impossible", []string{"--constraint", "throughput >= 1/s", "--constraint", "p99 <= 0.1ms"}, `"p99 <= 0.1ms" excludes 12 of 12 usable points`},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := costCommand(append([]string{"--results", results}, tc.args...), &out, &errOut)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error: %v\n%s", err, errOut.String())
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			got := out.String()
			if err != nil {
				got += "error: " + err.Error() + "\n"
			}
			checkGolden(t, filepath.Join("testdata", "cost", tc.golden+".golden"), got)
		})
	}
}

func TestCostFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "need --results FILE"},
		{[]string{"--results", "testdata/cost/quickstart.jsonl", "--price", "gpu_hourly=1"}, `price "gpu_hourly"`},
		{[]string{"--results", "testdata/cost/quickstart.jsonl", "--constraint", "gpu_memory <= 1"}, `unknown figure "gpu_memory"`},
		{[]string{"--results", "testdata/cost/quickstart.jsonl", "--objective", "perf_thruput"}, `unknown figure "perf_thruput"`},
	} {
		var out, errOut bytes.Buffer
		err := costCommand(tc.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.args, err, tc.want)
		}
	}
	var out, errOut bytes.Buffer
	if err := costCommand([]string{"-h"}, &out, &errOut); err != flag.ErrHelp || !strings.Contains(out.String(), "examples:") {
		t.Errorf("-h: %v\n%s", err, errOut.String())
	}
}
