package results_test

import (
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
	w, err = results.Create(path)
	if err != nil {
		t.Fatal(err)
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
