package scenarios

import (
	"encoding/json"
	"testing"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// A point's rate is a concurrency in a plain closed loop and a rate
// elsewhere; results files written before ClientLoad existed (schema 1, the
// format has not changed) decode the same.
func TestClientLoadDecodesTheRateCoordinate(t *testing.T) {
	// A line as `iaasbench sweep` wrote it for the quickstart scenario.
	const line = `{"schema":1,"kind":"point","sweep_id":"quickstart-1a2b","scenario":"quickstart","scenario_hash":"1296a747c27b","point":{"gpus":1,"instances":2,"clients":4,"rate":3,"batch_size":8,"servers":1},"trial":0,"attempt":1,"status":"ok","source":"measured","strategy":"grid","order":5,"started":"2025-01-01T00:00:00Z","finished":"2025-01-01T00:00:03Z"}`
	var rec results.Record
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatal(err)
	}
	p := rec.Point
	for _, c := range []struct {
		name string
		w    Workload
		want ClientLoad
	}{
		{"closed loop", Workload{Mode: workload.ModeClosed}, ClientLoad{Concurrency: 3}},
		{"open loop", Workload{Mode: workload.ModeOpen, Arrival: workload.ArrivalPoisson}, ClientLoad{Rate: 3, SamplingRate: 3}},
		{"closed-loop sequence", Workload{Mode: workload.ModeClosed, Sequence: true}, ClientLoad{Concurrency: 1, SamplingRate: 3}},
		{"data budget", Workload{Mode: workload.ModeClosed, Sequence: true, DataSeconds: 64}, ClientLoad{Concurrency: 1, SamplingRate: 3}},
		{"open-loop sequence", Workload{Mode: workload.ModeOpen, Sequence: true}, ClientLoad{Rate: 3, SamplingRate: 3}},
	} {
		if got := c.w.ClientLoad(p); got != c.want {
			t.Errorf("%s: ClientLoad(rate %g) = %+v, want %+v", c.name, p.Rate, got, c.want)
		}
	}
	// Fractions of a request in flight round down, but never to none.
	if got := (Workload{Mode: workload.ModeClosed}).ClientLoad(results.Point{Rate: 0.5}); got.Concurrency != 1 {
		t.Errorf("closed loop at rate 0.5: concurrency %d, want 1", got.Concurrency)
	}
}
