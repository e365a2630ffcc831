package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// measure --input-data FILE against the embedded server: simple (INT32)
// and simple_string (BYTES, two streams) run on the file's data and the
// measurement names it; an entry the model refuses (a string that is not
// a number) fails the command, which shows the requests use every entry.
func TestMeasureInputDataFile(t *testing.T) {
	dir := t.TempDir()
	row := func(v string, quote bool) string {
		if quote {
			v = `"` + v + `"`
		}
		return "[" + strings.TrimSuffix(strings.Repeat(v+",", 16), ",") + "]"
	}
	entry := func(a, b string, quote bool) string {
		return `{"INPUT0":` + row(a, quote) + `,"INPUT1":` + row(b, quote) + `}`
	}
	files := map[string]string{
		"ints.json":    `{"data":[` + entry("1", "2", false) + `,` + entry("-7", "3", false) + `]}`,
		"strings.json": `{"data":[[` + entry("1", "2", true) + `],[` + entry("5", "5", true) + `,` + entry("9", "0", true) + `]]}`,
		"bad.json":     `{"data":[` + entry("1", "2", true) + `,` + entry("one", "2", true) + `]}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"--warmup", "0", "--requests", "30", "--no-telemetry", "--progress", "off"}
	for _, c := range []struct {
		model, file      string
		streams, entries int
	}{{"simple", "ints.json", 1, 2}, {"simple_string", "strings.json", 2, 3}} {
		out := filepath.Join(dir, c.model+".json")
		args := append([]string{"measure", "-m", c.model, "--input-data", filepath.Join(dir, c.file), "--json", out, "-b", "2"}, common...)
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", c.model, code, stdout.String(), stderr.String())
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var m results.Measurement
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Requests != 30 || m.Errors != 0 || m.Inferences != 60 {
			t.Errorf("%s: requests %d inferences %d errors %d, want 30, 60, 0", c.model, m.Requests, m.Inferences, m.Errors)
		}
		if m.InputData == nil || m.InputData.Source != c.file || m.InputData.Streams != c.streams || m.InputData.Entries != c.entries {
			t.Errorf("%s: input data %+v, want %s with %d streams, %d entries", c.model, m.InputData, c.file, c.streams, c.entries)
		}
	}
	var stdout, stderr bytes.Buffer
	args := append([]string{"measure", "-m", "simple_string", "--input-data", filepath.Join(dir, "bad.json")}, common...)
	if code := run(args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "not a decimal integer") {
		t.Errorf("bad entry 1: exit %d, stderr %q; want the server's refusal", code, stderr.String())
	}
	stderr.Reset()
	args = append([]string{"measure", "-m", "simple", "--input-data", filepath.Join(dir, "strings.json")}, common...)
	if code := run(args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), `input "INPUT0"`) || !strings.Contains(stderr.String(), "strings.json") {
		t.Errorf("strings for INT32: exit %d, stderr %q; want the file and input named", code, stderr.String())
	}
}
