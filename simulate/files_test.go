package simulate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// A simulated file is replaced; a file of measurements or anything else
// is left alone with an error naming it.
func TestCreateFile(t *testing.T) {
	dir := t.TempDir()
	s, err := scenarios.Builtin("quickstart")
	if err != nil {
		t.Fatal(err)
	}
	write := func(path string, hdr results.Record) {
		w, err := CreateFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(hdr); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	sim := filepath.Join(dir, "sim.jsonl")
	write(sim, Header(s, Options{}))
	write(sim, Header(s, Options{}))
	if recs, err := results.ReadFile(sim); err != nil || len(recs) != 1 {
		t.Errorf("a simulated file is replaced: got %d records, %v; want 1", len(recs), err)
	}

	measured := filepath.Join(dir, "measured.jsonl")
	hdr := Header(s, Options{})
	hdr.Header.Target = scenarios.TargetEmbedded
	write(measured, hdr) // CreateFile of a new file: it is empty
	if _, err := CreateFile(measured); err == nil || !strings.Contains(err.Error(), "holds measurements") {
		t.Errorf("a file of measurements: got %v, want an error", err)
	}
	other := filepath.Join(dir, "notes.jsonl")
	if err := os.WriteFile(other, []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateFile(other); err == nil || !strings.Contains(err.Error(), "not a results file") {
		t.Errorf("a foreign file: got %v, want an error", err)
	}
	if b, _ := os.ReadFile(other); string(b) != "not json\n" {
		t.Errorf("the foreign file was changed: %q", b)
	}
}
