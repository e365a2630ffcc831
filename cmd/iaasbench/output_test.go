package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The user-visible output of the commands that print without measuring:
// golden files in testdata/output (go test ./cmd/iaasbench -run Golden
// -update rewrites them).
func TestOutputGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"scenarios-list", []string{"scenarios", "list"}},
		{"scenarios-check", []string{"scenarios", "check", "quickstart"}},
		{"results-show", []string{"results", "show", "testdata/cost/quickstart.jsonl"}},
		{"results-csv", []string{"results", "csv", "testdata/cost/quickstart.jsonl"}},
		{"results-ls", []string{"results", "ls", "testdata/cost"}},
		{"k8s-manifests", []string{"k8s", "manifests", "--scenario", "quickstart", "--model-repository", "s3://bucket/models", "--agents", "2", "--coordinator", "10.0.0.5:7070"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if rc := run(c.args, &out, &errOut); rc != 0 || errOut.Len() > 0 {
				t.Fatalf("iaasbench %s: exit %d, stderr %q", strings.Join(c.args, " "), rc, errOut.String())
			}
			got := out.String()
			if c.name == "results-ls" {
				// The last column is the newest record's time in the local
				// time zone.
				got = localTimes.ReplaceAllString(got, "YYYY-MM-DD hh:mm")
			}
			checkGolden(t, filepath.Join("testdata", "output", c.name+".golden"), got)
		})
	}
}

// Bad input: the exit status and the message on stderr, nothing on
// stdout, for each case in one golden file (testdata/errors.golden).
func TestErrorsGolden(t *testing.T) {
	cases := [][]string{
		{"nope"},
		{"sweep", "--nope"},
		{"sweep", "--attempts", "0"},
		{"sweep", "stray"},
		{"sweep", "--scenario", "testdata/errors/bad-mode.yaml"},
		{"scenarios", "check", "testdata/errors/bad-mode.yaml"},
		{"scenarios", "check", "testdata/errors/bad-field.yaml"},
		{"scenarios", "check", "testdata/errors/missing.yaml"},
		{"scenarios", "show", "nosuch"},
		{"scenarios", "nope"},
		{"results", "show"},
		{"results", "show", "testdata/errors/missing.jsonl"},
		{"results", "show", "testdata/errors/not-results.jsonl"},
		{"results", "csv", "testdata/errors/bad-mode.yaml"},
		{"report"},
		{"report", "--results", "testdata/errors/missing.jsonl"},
		{"cost", "--results", "testdata/cost/quickstart.jsonl", "--price", "nope=1"},
		{"cost", "--results", "testdata/cost/quickstart.jsonl", "--objective", "perf_thruput"},
		{"gate"},
		{"gate", "--nope"},
		{"gate", "--baseline", "testdata/errors/missing.jsonl", "--candidate", "testdata/cost/quickstart.jsonl"},
		{"gate", "--results", "testdata/cost/quickstart.jsonl", "--baseline", "testdata/cost/quickstart.jsonl"},
		{"gate", "run", "--scenario", "testdata/errors/bad-field.yaml"},
		{"simulate"},
		{"simulate", "--scenario", "quickstart", "--overhead-us", "-3"},
		{"simulate", "--scenario", "quickstart", "--host-cores", "-1"},
		{"serve", "--max-queue", "0"},
		{"serve", "--max-inflight-bytes", "lots"},
		{"k8s"},
		{"k8s", "nope"},
		{"profile"},
		{"profile", "--url", "127.0.0.1:1", "--batches", "1,x"},
		{"agent"},
		{"version", "stray"},
	}
	var b strings.Builder
	for _, args := range cases {
		var out, errOut bytes.Buffer
		rc := run(args, &out, &errOut)
		if rc == 0 {
			t.Errorf("iaasbench %s: exit 0, want an error", strings.Join(args, " "))
		}
		if out.Len() > 0 {
			t.Errorf("iaasbench %s: wrote to stdout: %q", strings.Join(args, " "), out.String())
		}
		fmt.Fprintf(&b, "$ iaasbench %s\nexit %d\n%s\n", strings.Join(args, " "), rc, errOut.String())
	}
	checkGolden(t, filepath.Join("testdata", "errors.golden"), b.String())
}

var localTimes = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d`)
