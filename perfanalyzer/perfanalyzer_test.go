package perfanalyzer

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/results/pacsv"
)

func TestParseRange(t *testing.T) {
	good := []struct {
		s       string
		integer bool
		want    []float64
	}{
		{"1:4:1", true, []float64{1, 2, 3, 4}},
		{"1:4", true, []float64{1, 2, 3, 4}},
		{"2", true, []float64{2}},
		{"1:8:3", true, []float64{1, 4, 7}},
		{"0.5:1.5:0.5", false, []float64{0.5, 1, 1.5}},
		{"100:400:100", false, []float64{100, 200, 300, 400}},
		{"1:0:1", true, nil}, // unbounded: a search chooses the values
		{"0.1:0.3:0.1", false, []float64{0.1, 0.2, 0.3}},
	}
	for _, c := range good {
		r, err := ParseRange("--r", c.s, c.integer)
		if err != nil {
			t.Errorf("%q: %v", c.s, err)
			continue
		}
		if got := r.Values(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: values %v, want %v", c.s, got, c.want)
		}
	}
	bad := []struct{ s, msg string }{
		{"", "start[:end[:step]]"},
		{"1:2:3:4", "start[:end[:step]]"},
		{"a:4", `start "a" is not a number`},
		{"1:x", `end "x" is not a number`},
		{"1.5:4", "not a whole number"},
		{"0:4", "start must be > 0"},
		{"4:1", "below start"},
		{"1:4:0", "step must be > 0"},
		{"1:1000000:1", "more than"},
	}
	for _, c := range bad {
		_, err := ParseRange("--concurrency-range", c.s, true)
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "--concurrency-range") {
			t.Errorf("%q: err %v, want one naming the flag and saying %q", c.s, err, c.msg)
		}
	}
}

func TestRowsAndSummary(t *testing.T) {
	m := func(ips float64) *results.Measurement {
		return &results.Measurement{Mode: "closed", Clients: 1, ThroughputIPS: ips,
			Latency: results.LatencySummary{MeanUS: 250.7, P95US: 400.2, Percentile: 95, PercentileUS: 400.2}}
	}
	recs := []results.Record{
		{Kind: results.KindHeader},
		{Kind: results.KindPoint, Status: results.StatusOK, Point: results.Point{Rate: 2}, Measurement: func() *results.Measurement { x := m(200); x.Concurrency = 2; return x }()},
		{Kind: results.KindPoint, Status: results.StatusFailed, Point: results.Point{Rate: 1}},
		{Kind: results.KindPoint, Status: results.StatusOK, Point: results.Point{Rate: 1}, Measurement: func() *results.Measurement { x := m(100); x.Concurrency = 1; return x }()},
	}
	rows := Rows(recs, []float64{1, 2, 3})
	if len(rows) != 2 || rows[0].Load != 1 || rows[1].Load != 2 {
		t.Fatalf("rows %+v", rows)
	}
	var buf bytes.Buffer
	WriteSummary(&buf, rows, pacsv.Options{})
	want := "Inferences/Second vs. Client Average Batch Latency\nConcurrency: 1, throughput: 100 infer/sec, latency 250 usec\nConcurrency: 2, throughput: 200 infer/sec, latency 250 usec\n"
	if buf.String() != want {
		t.Errorf("summary\n%s\nwant\n%s", buf.String(), want)
	}
	buf.Reset()
	WriteSummary(&buf, rows, pacsv.Options{Percentile: 95})
	if !strings.HasPrefix(buf.String(), "Inferences/Second vs. Client p95 Batch Latency\nConcurrency: 1, throughput: 100 infer/sec, latency 400 usec\n") {
		t.Errorf("p95 summary:\n%s", buf.String())
	}
}
