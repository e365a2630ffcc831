package sweep

import (
	"fmt"
	"testing"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

func TestDebugTrace(t *testing.T) {
	m := synth{capPerGPU: 3272.6668718829587, bestInst: 4.601803439456689, instWidth: 1.4356340221544084, perClient: 421.00329781943725, gpuLoss: 0.16413248813662656, thrash: 13.825762785640297, baseMS: 1.923607073644467, batchHalf: 9.730994476218836, noise: 0.00711509}
	s := scenarioOf(t, "gpus: [1, 2, 3, 4, 6, 8]\ninstances: [1, 2, 3, 4]\nclients: [1, 2, 4, 8, 16, 32, 64]\nbatch_size: [1, 4, 16]", gpuPrices+"\nconstraints: [\"p99 <= 20ms\"]", "")
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
