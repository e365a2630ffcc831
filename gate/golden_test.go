package gate

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// update rewrites the golden files: go test ./gate/ -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test ./gate/ -run Golden -update rewrites it after a deliberate change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// goldenReports are fixed reports covering every verdict: a regression,
// an improvement, an ungated change, a too-small sample, a missing
// point, and an all-quiet A/A comparison.
func goldenReports(t *testing.T) map[string]*Report {
	mixed := mixedReport(t)
	aa := mustCompare(t, grid(3, 3, 8, 0.02, 1), grid(4, 3, 8, 0.02, 1), Options{})
	// Throughput -20% (beyond -5%), p99 -30% (an improvement beyond
	// 10%), p50 +40% (no threshold).
	changed := mustCompare(t, sweep(1, 8, 0.01, nil), sweep(2, 8, 0.01, func(f *figures) {
		f.thr *= 0.8
		f.p99 *= 0.7
		f.p50 *= 1.4
	}), Options{})
	return map[string]*Report{"mixed": mixed, "aa": aa, "changed": changed}
}

func TestGoldenOutputs(t *testing.T) {
	for name, rep := range goldenReports(t) {
		for ext, write := range map[string]func(io.Writer) error{
			"table": rep.WriteTable, "md": rep.WriteMarkdown, "junit.xml": rep.WriteJUnit, "json": rep.WriteJSON} {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, name+"."+ext+".golden", b.Bytes())
		}
	}
}
