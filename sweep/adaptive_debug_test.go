package sweep

import (
	"fmt"
	"testing"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

func TestDebugTrace(t *testing.T) {
	m := synth{capPerGPU: 3851.62826249251, bestInst: 2.839655715221432, instWidth: 0.9252498127313604, perClient: 385.69803261135803, gpuLoss: 0.05275994299761154, thrash: 19.54791962221659, baseMS: 2.6192740775728756, batchHalf: 5.507823603281272, noise: 0.03395628391414336}
	s := scenarioOf(t, "instances: [1, 2, 4, 8]\nbatch_size: [1, 2, 4, 8, 16, 32]\nclients: [1, 2, 4, 8, 16]", "prices:\n  node_hour: 0.5\nobjective: usd_per_million\nconstraints: [\"p99 <= 15ms\"]", "")
	a, _ := NewAdaptive(s)
	var recs []results.Record
	truth := bestFeasible(t, s, gridRecords(t, s, m))
	t.Logf("truth %s %.4g", pointText(truth.Point, a.dims), truth.Cost)
	for {
		p, why, ok := a.Next(recs)
		if !ok {
			t.Logf("stop: %s", why)
			break
		}
		info := ""
		if len(recs) >= len(a.design) {
			evals, _ := cost.Evaluate(recs, s.Cost)
			cs, _ := cost.NewCostSurface(evals, a.dims, s.Cost)
			var usable []results.Point
			for _, ev := range evals {
				usable = append(usable, ev.Point)
			}
			sc := a.newScorer(cs, evals, usable)
			pr := sc.predict(p)
			tp := sc.predict(truth.Point)
			b := bestFeasible(t, s, recs)
			info = fmtf("mu=%.4g lsd=%.3g pf=%.2f ei=%.3g | truth mu=%.4g lsd=%.3g pf=%.2f ei=%.3g | best %.4g loo=%v", pr.mu, pr.logSD, pr.pf, expectedImprovement(b.Cost, pr), tp.mu, tp.logSD, tp.pf, expectedImprovement(b.Cost, tp), b.Cost, cs.Fit())
		}
		r := m.record(p, 0)
		recs = append(recs, r)
		ev, _ := cost.Evaluate([]results.Record{r}, s.Cost)
		t.Logf("%2d %s cost=%.4g feas=%v %s", len(recs), pointText(p, a.dims), ev[0].Cost, ev[0].Feasible, info)
	}
}

func fmtf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
