package results_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// A write cut short by kill -9 leaves a partial last line: readers skip
// it, and the next writer cuts it off so its record starts a line.
func TestPartialLastLineIsSkippedThenRepaired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	w, err := results.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := w.Append(results.Record{Kind: results.KindPoint, Point: results.Point{Clients: i + 1}, Status: results.StatusOK}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"schema":1,"kind":"point","point":{"clie`)
	f.Close()

	recs, err := results.ReadFile(path)
	if err != nil || len(recs) != 2 {
		t.Fatalf("read with a partial last line: %d records, %v", len(recs), err)
	}
	st, _ := os.Stat(path)
	w, err = results.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, ok := w.Repaired()
	torn := int64(len(`{"schema":1,"kind":"point","point":{"clie`))
	if !ok || rep.Offset != st.Size()-torn || rep.Bytes != torn || !strings.Contains(rep.String(), "r.jsonl") ||
		!strings.Contains(rep.String(), fmt.Sprintf("offset %d", rep.Offset)) {
		t.Fatalf("repair of a %d-byte torn line at offset %d reported as %+v, %v (%s)", torn, st.Size()-torn, rep, ok, rep)
	}
	if err := w.Append(results.Record{Kind: results.KindPoint, Point: results.Point{Clients: 3}, Status: results.StatusOK}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	recs, err = results.ReadFile(path)
	if err != nil || len(recs) != 3 || recs[2].Point.Clients != 3 {
		t.Fatalf("after repair: %d records, %v", len(recs), err)
	}
}

func TestMalformedLineNamesFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	os.WriteFile(path, []byte("{\"schema\":1,\"kind\":\"header\"}\nnot json\n{\"schema\":1}\n"), 0o644)
	_, err := results.ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), "r.jsonl:2") {
		t.Fatalf("error %v does not name line 2", err)
	}
	os.WriteFile(path, []byte("{\"schema\":99}\n"), 0o644)
	if _, err := results.ReadFile(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("a future schema was accepted: %v", err)
	}
}

func TestPointKeyAndCoordinates(t *testing.T) {
	p := results.Point{GPUs: 2, Instances: 3, Clients: 4, Rate: 0.5, BatchSize: 8, Servers: 1}
	if p.Key() != "gpus=2,instances=3,clients=4,rate=0.5,batch_size=8,servers=1" {
		t.Fatal(p.Key())
	}
	for i, d := range results.Dimensions {
		v, err := p.Coord(d)
		want := []float64{2, 3, 4, 0.5, 8, 1}[i]
		if err != nil || v != want {
			t.Fatalf("%s = %v, %v", d, v, err)
		}
	}
	if _, err := p.Coord("nope"); err == nil {
		t.Fatal("unknown dimension accepted")
	}
}

// One writer per file: a second Create fails at once, naming the holder's
// pid, until the first writer closes; a clean file reports no repair.
func TestSecondWriterIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	w, err := results.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.Repaired(); ok {
		t.Fatal("a new file reported a repair")
	}
	if err := w.Append(results.Record{Kind: "point", Status: results.StatusOK}); err != nil {
		t.Fatal(err)
	}
	_, err = results.Create(path)
	var inUse *results.InUseError
	if !errors.As(err, &inUse) || !errors.Is(err, results.ErrInUse) {
		t.Fatalf("second writer: %v, want an InUseError", err)
	}
	if want := fmt.Sprintf("pid %d", os.Getpid()); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %q does not name the file and %q", err, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + results.LockSuffix); !os.IsNotExist(err) {
		t.Fatalf("sidecar left after Close: %v", err)
	}
	w2, err := results.Create(path)
	if err != nil {
		t.Fatalf("after the first writer closed: %v", err)
	}
	if err := w2.Append(results.Record{Kind: "point", Status: results.StatusOK}); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	if recs, err := results.ReadFile(path); err != nil || len(recs) != 2 {
		t.Fatalf("read back: %d records, %v", len(recs), err)
	}
}
