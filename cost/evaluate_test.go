package cost

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

func TestEvaluateKeepsInfeasibleAndFailedPoints(t *testing.T) {
	a := results.Point{GPUs: 1, Instances: 1}
	b := results.Point{GPUs: 1, Instances: 2}
	c := results.Point{GPUs: 1, Instances: 4}
	failed := results.Record{Kind: results.KindPoint, Point: c, Status: results.StatusFailed, Reason: "server did not start"}
	recs := []results.Record{
		{Kind: results.KindHeader, Header: &results.Header{}},
		rec(a, 1000, 10),
		rec(b, 1800, 41.2),
		failed,
	}
	spec := Spec{Prices: examplePrices(), Constraints: []string{"p99 <= 20ms", "throughput >= 500/s"}}
	evs := mustEvaluate(t, recs, spec)
	if len(evs) != 3 {
		t.Fatalf("got %d evaluated points, want 3 (header skipped, none dropped)", len(evs))
	}
	if evs[0].Point != a || !evs[0].Feasible || len(evs[0].Violations) != 0 {
		t.Errorf("point a: %+v, want feasible", evs[0])
	}
	if evs[1].Point != b || evs[1].Feasible || !reflect.DeepEqual(evs[1].Violations, []string{"p99 41.2ms > 20ms"}) {
		t.Errorf("point b: feasible=%v violations=%q, want infeasible with p99 41.2ms > 20ms", evs[1].Feasible, evs[1].Violations)
	}
	if evs[1].Cost >= evs[0].Cost {
		t.Errorf("infeasible b should still be costed (cheaper per inference): %v vs %v", evs[1].Cost, evs[0].Cost)
	}
	f := evs[2]
	if f.Status != results.StatusFailed || f.Feasible || f.Reason != "server did not start" || !math.IsInf(f.Cost, 1) {
		t.Errorf("failed point: %+v", f)
	}
	// 1.5 USD/h / (3600 × 1000/s) × 1e6.
	near(t, "usd_per_million of a", evs[0].Cost, 1.5/3.6, 1e-12)
}

func TestEvaluateAggregatesTrials(t *testing.T) {
	p := results.Point{GPUs: 1, Instances: 2}
	var recs []results.Record
	for i, ips := range []float64{900, 1000, 1300} {
		r := rec(p, ips, []float64{12, 10, 30}[i])
		r.Trial = i
		recs = append(recs, r)
	}
	// A failed attempt that was retried does not make the point fail.
	retry := results.Record{Kind: results.KindPoint, Point: p, Trial: 1, Attempt: 1, Status: results.StatusFailed, Reason: "timeout"}
	recs = append([]results.Record{retry}, recs...)
	evs := mustEvaluate(t, recs, Spec{Prices: examplePrices()})
	if len(evs) != 1 {
		t.Fatalf("got %d points, want 1", len(evs))
	}
	ev := evs[0]
	if ev.N != 3 || ev.Status != results.StatusOK {
		t.Errorf("N=%d status=%s, want 3 ok", ev.N, ev.Status)
	}
	near(t, "median throughput", ev.Figures["throughput"], 1000, 1e-12)
	near(t, "median p99", ev.Figures["p99"], 12, 1e-12)
	// The median of per-trial expense (1.5 USD/h over each trial's throughput).
	near(t, "median usd_per_million", ev.Expense.USDPerMillion, 1.5/3.6, 1e-12)

	// Even trial counts average the middle two.
	evs = mustEvaluate(t, recs[:3], Spec{Prices: examplePrices()})
	near(t, "median of two", evs[0].Figures["throughput"], 950, 1e-12)
}

func TestEvaluatePrefersCompleteTrials(t *testing.T) {
	p := results.Point{Instances: 1}
	inc := rec(p, 10, 100)
	inc.Status = results.StatusIncomplete
	evs := mustEvaluate(t, []results.Record{inc, rec(p, 1000, 5)}, Spec{Objective: "p99"})
	if evs[0].N != 1 || evs[0].Status != results.StatusOK || evs[0].Figures["throughput"] != 1000 {
		t.Errorf("with an ok trial the incomplete one is not used: %+v", evs[0])
	}
	evs = mustEvaluate(t, []results.Record{inc}, Spec{Objective: "p99"})
	if evs[0].Status != results.StatusIncomplete || evs[0].N != 1 || !evs[0].Feasible {
		t.Errorf("an incomplete point alone is evaluated and labelled: %+v", evs[0])
	}
}

func TestEvaluateBadRecords(t *testing.T) {
	r := rec(results.Point{}, 1, 1)
	r.Status = "maybe"
	_, err := Evaluate([]results.Record{rec(results.Point{}, 1, 1), r}, Spec{Objective: "p99"})
	if err == nil || !strings.Contains(err.Error(), `record 2 (point gpus=0`) || !strings.Contains(err.Error(), `unknown status "maybe"`) {
		t.Errorf("err = %v", err)
	}
	r = rec(results.Point{}, 1, 1)
	r.Kind = "pint"
	if _, err := Evaluate([]results.Record{r}, Spec{Objective: "p99"}); err == nil || !strings.Contains(err.Error(), `unknown kind "pint"`) {
		t.Errorf("err = %v", err)
	}
}

func TestEvaluateMissingFigures(t *testing.T) {
	r := rec(results.Point{Instances: 1}, 100, 5) // no telemetry, no data rate
	spec := Spec{Prices: examplePrices(), Constraints: []string{"gpu_util >= 50%"}, Objective: "usd_per_data_hour"}
	ev := mustEvaluate(t, []results.Record{r}, spec)[0]
	want := []string{"gpu_util not measured", "usd_per_data_hour not measured (objective)"}
	if ev.Feasible || !reflect.DeepEqual(ev.Violations, want) || !math.IsInf(ev.Cost, 1) {
		t.Errorf("feasible=%v violations=%q cost=%v, want infeasible %q at +Inf", ev.Feasible, ev.Violations, ev.Cost, want)
	}
	r.Measurement.Telemetry = &results.Telemetry{GPUUtilMean: 62}
	r.Measurement.DataRate = 2
	ev = mustEvaluate(t, []results.Record{r}, spec)[0]
	if !ev.Feasible {
		t.Errorf("with telemetry and a data rate: %q", ev.Violations)
	}
	// No GPUs: one node at 0.5 USD/h over 2 s of data per s.
	near(t, "usd_per_data_hour", ev.Cost, 0.5/2, 1e-12)
}

func TestObjectives(t *testing.T) {
	recs := []results.Record{
		rec(results.Point{Instances: 1}, 1000, 10),
		rec(results.Point{Instances: 2}, 2000, 40),
		rec(results.Point{Instances: 4}, 4000, 20),
	}
	// A figure that is better higher is maximised: cost is its negative.
	evs := mustEvaluate(t, recs, Spec{Objective: "throughput"})
	if evs[2].Cost != -4000 {
		t.Errorf("throughput objective cost = %v, want -4000", evs[2].Cost)
	}
	// Weighted: each figure over its median across points
	// (p99 median 20 ms, throughput median 2000/s).
	evs = mustEvaluate(t, recs, Spec{Objective: "weighted", Weights: map[string]float64{"p99": 1, "throughput": -2}})
	for i, want := range []float64{10.0/20 - 2*1000.0/2000, 40.0/20 - 2*2000.0/2000, 20.0/20 - 2*4000.0/2000} {
		near(t, "weighted cost", evs[i].Cost, want, 1e-12)
	}
}

func TestFigureUnits(t *testing.T) {
	r := rec(results.Point{BatchSize: 4}, 4000, 25)
	r.Measurement.Errors = 3
	r.Measurement.Telemetry = &results.Telemetry{GPUUtilMean: 40, CPUUtilMean: 70}
	exp := ExpenseOf(r, examplePrices())
	want := map[string]float64{
		"throughput": 4000, "throughput_rps": 1000, "p50": 12.5, "p99": 25, "p999": 30, "max": 37.5,
		"gpu_util": 40, "cpu_util": 70, "errors": 3, "usd_per_hour": 0.5, "data_rate": 0,
	}
	for name, w := range want {
		got, err := Figure(r, exp, name)
		if err != nil {
			t.Errorf("Figure %s: %v", name, err)
			continue
		}
		near(t, name, got, w, 1e-12)
	}
	if _, err := Figure(r, exp, "latency"); err == nil || !strings.Contains(err.Error(), `unknown figure "latency"`) {
		t.Errorf("unknown figure: %v", err)
	}
	r.Measurement = nil
	if _, err := Figure(r, exp, "p99"); err == nil {
		t.Error("figure of a record without measurement: no error")
	}
	for _, name := range FigureNames {
		if _, ok := figureTable[name]; !ok {
			t.Errorf("FigureNames has %q but the table does not", name)
		}
	}
	if len(FigureNames) != len(figureTable) {
		t.Errorf("FigureNames and figureTable disagree")
	}
}
