package perfanalyzer

import (
	"reflect"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// drive runs a search to its end, measuring value v as a mean latency of
// latMS(v) ms (or failing it when latMS < 0), on top of the records
// prior. It returns the values measured in order, the stop reason and
// every record.
func drive(t *testing.T, s *Search, latMS func(float64) float64, prior []results.Record) ([]float64, string, []results.Record) {
	t.Helper()
	st := s.Strategy()
	recs := append([]results.Record(nil), prior...)
	var visited []float64
	for range 1000 {
		p, why, ok := st.Next(recs)
		if !ok {
			return visited, why, recs
		}
		visited = append(visited, p.Rate)
		if slicesHasOK(prior, p.Rate) {
			continue // the sweep skips a value already measured
		}
		rec := results.Record{Kind: results.KindPoint, Point: p, Status: results.StatusOK}
		if l := latMS(p.Rate); l < 0 {
			rec.Status, rec.Reason = results.StatusFailed, "connection refused"
		} else {
			rec.Measurement = &results.Measurement{Latency: results.LatencySummary{MeanUS: l * 1000, P95US: 2 * l * 1000}}
		}
		recs = append(recs, rec)
	}
	t.Fatal("search does not end")
	return nil, "", nil
}

func slicesHasOK(recs []results.Record, v float64) bool {
	for _, r := range recs {
		if r.Point.Rate == v && r.Status == results.StatusOK {
			return true
		}
	}
	return false
}

func rowLoads(s *Search, recs []results.Record) []float64 {
	var out []float64
	for _, r := range s.Rows(recs) {
		out = append(out, r.Load)
	}
	return out
}

func mustRange(t *testing.T, spec string, integer bool) Range {
	t.Helper()
	r, err := ParseRange("--concurrency-range", spec, integer)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLinearSearchStopsAtThreshold(t *testing.T) {
	s := &Search{Range: mustRange(t, "1:10:1", true), ThresholdMS: 5, Integer: true}
	visited, why, recs := drive(t, s, func(v float64) float64 { return v }, nil)
	// 5 ms is not under a 5 ms threshold (perf_analyzer: latency >= threshold).
	if want := []float64{1, 2, 3, 4, 5}; !reflect.DeepEqual(visited, want) {
		t.Errorf("visited %v, want %v", visited, want)
	}
	if !strings.Contains(why, "concurrency 5: mean latency 5.000 ms reached the threshold of 5 ms") {
		t.Errorf("why %q", why)
	}
	// The value over the threshold is recorded but not reported.
	if got, want := rowLoads(s, recs), []float64{1, 2, 3, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	// A resumed run takes the same path from the records alone.
	again, why2, _ := drive(t, s, func(float64) float64 { t.Fatal("measured again"); return 0 }, recs)
	if !reflect.DeepEqual(again, visited) || why2 != why {
		t.Errorf("resumed: %v %q, want %v %q", again, why2, visited, why)
	}
	// Under the threshold all the way: the whole range.
	visited, why, _ = drive(t, s, func(float64) float64 { return 1 }, nil)
	if len(visited) != 10 || why != "end of the range" {
		t.Errorf("all under: visited %v, why %q", visited, why)
	}
}

func TestLinearSearchPercentile(t *testing.T) {
	// p95 is twice the mean here: the threshold is judged on it.
	s := &Search{Range: mustRange(t, "1:10:1", true), ThresholdMS: 6, Integer: true, Percentile: 95}
	visited, why, _ := drive(t, s, func(v float64) float64 { return v }, nil)
	if want := []float64{1, 2, 3}; !reflect.DeepEqual(visited, want) || !strings.Contains(why, "p95 latency 6.000 ms") {
		t.Errorf("visited %v, why %q", visited, why)
	}
}

func TestLinearSearchFailedPointStops(t *testing.T) {
	s := &Search{Range: mustRange(t, "1:10:1", true), ThresholdMS: 50, Integer: true}
	visited, why, _ := drive(t, s, func(v float64) float64 {
		if v == 3 {
			return -1
		}
		return v
	}, nil)
	if want := []float64{1, 2, 3}; !reflect.DeepEqual(visited, want) || !strings.Contains(why, "concurrency 3 has no measurement (failed: connection refused)") {
		t.Errorf("visited %v, why %q", visited, why)
	}
}

func TestUnboundedSearch(t *testing.T) {
	s := &Search{Range: mustRange(t, "2:0:2", true), ThresholdMS: 9, Integer: true}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	visited, _, recs := drive(t, s, func(v float64) float64 { return v }, nil)
	if want := []float64{2, 4, 6, 8, 10}; !reflect.DeepEqual(visited, want) {
		t.Errorf("visited %v, want %v", visited, want)
	}
	if got, want := rowLoads(s, recs), []float64{2, 4, 6, 8}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	// Never reaching the threshold stops at the cap.
	visited, why, _ := drive(t, s, func(float64) float64 { return 1 }, nil)
	if len(visited) != MaxSearchValues || visited[len(visited)-1] != 2*MaxSearchValues || !strings.Contains(why, "cap") {
		t.Errorf("capped search: %d values, last %v, why %q", len(visited), visited[len(visited)-1], why)
	}
	if s.Strategy().Size() != MaxSearchValues {
		t.Errorf("size %d", s.Strategy().Size())
	}
}

func TestBinarySearchConverges(t *testing.T) {
	s := &Search{Range: mustRange(t, "1:64:1", true), ThresholdMS: 20, Binary: true, Integer: true}
	visited, why, recs := drive(t, s, func(v float64) float64 { return v }, nil)
	if visited[0] != 1 || visited[1] != 64 || len(visited) > s.Strategy().Size() {
		t.Errorf("visited %v (size %d)", visited, s.Strategy().Size())
	}
	if !strings.Contains(why, "concurrency 19 is the largest value found under the latency threshold of 20 ms (20 is over it)") {
		t.Errorf("why %q (visited %v)", why, visited)
	}
	rows := rowLoads(s, recs)
	if rows[len(rows)-1] != 19 {
		t.Errorf("rows %v, want the last 19", rows)
	}
	for _, v := range visited {
		if v != float64(int(v)) {
			t.Errorf("concurrency %v is not whole", v)
		}
	}
	again, why2, _ := drive(t, s, func(float64) float64 { t.Fatal("measured again"); return 0 }, recs)
	if !reflect.DeepEqual(again, visited) || why2 != why {
		t.Errorf("resumed: %v %q, want %v %q", again, why2, visited, why)
	}

	// Request rates: step is the precision.
	r := &Search{Range: mustRange(t, "10:200:0.5", false), ThresholdMS: 30, Binary: true}
	lat := func(v float64) float64 { return v / 3 } // under iff v < 90
	_, why, recs = drive(t, r, lat, nil)
	var best, firstOver float64 = 0, 1e9
	for _, rec := range recs {
		if u, _ := r.Under(rec.Measurement); u {
			best = max(best, rec.Point.Rate)
		} else {
			firstOver = min(firstOver, rec.Point.Rate)
		}
	}
	if best >= 90 || firstOver < 90 || firstOver-best > 0.5 || !strings.Contains(why, "request rate") {
		t.Errorf("best under %v, first over %v, why %q", best, firstOver, why)
	}

	// Ends at once when start is over or end is under.
	visited, why, _ = drive(t, s, func(float64) float64 { return 100 }, nil)
	if len(visited) != 1 || !strings.Contains(why, "nothing in the range is under it") {
		t.Errorf("start over: %v %q", visited, why)
	}
	visited, why, _ = drive(t, s, func(float64) float64 { return 1 }, nil)
	if len(visited) != 2 || !strings.Contains(why, "the end of the range, is under") {
		t.Errorf("end under: %v %q", visited, why)
	}
}

func TestSearchCheck(t *testing.T) {
	for _, c := range []struct {
		s    Search
		want string
	}{
		{Search{Range: Range{1, 0, 1}}, "end 0 searches up to the latency threshold: give -l/--latency-threshold"},
		{Search{Range: Range{1, 0, 1}, ThresholdMS: 5, Binary: true}, "a binary search needs the end of the range"},
		{Search{Range: Range{1, 8, 1}, Binary: true}, "--binary-search looks for the largest value under the latency threshold"},
		{Search{Range: Range{4, 4, 1}, ThresholdMS: 5, Binary: true}, "give --concurrency-range start:end[:step] with end above start"},
		{Search{Range: Range{1, 8, 1}, ThresholdMS: -1}, "want ms >= 0"},
	} {
		c.s.Flag = "--concurrency-range"
		if err := c.s.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.s, err, c.want)
		}
	}
	for _, ok := range []Search{{Range: Range{1, 8, 1}}, {Range: Range{1, 0, 1}, ThresholdMS: 3}, {Range: Range{1, 8, 1}, ThresholdMS: 3, Binary: true}} {
		if err := ok.Check(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}
