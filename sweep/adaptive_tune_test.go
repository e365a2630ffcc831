package sweep

import (
	"math/rand/v2"
	"testing"

	"github.com/iaasbench/iaasbench/scenarios"
)

func TestTuneRandom(t *testing.T) {
	for _, k := range []float64{0, 1, 2, 3} {
		tuneK = k
		t.Logf("K=%v", k)
		tuneRandom(t)
	}
}

func tuneRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type tmpl struct{ dims, cost string }
	cpu := "prices:\n  node_hour: 0.5\n"
	tmpls := []tmpl{
		{gpuDims, gpuPrices},
		{gpuDims, gpuPrices + "\nconstraints: [\"p99 <= 12ms\"]"},
		{"instances: [1, 2, 4, 8]\nbatch_size: [1, 2, 4, 8, 16, 32]\nclients: [1, 2, 4, 8, 16]", cpu + "objective: usd_per_million\nconstraints: [\"p99 <= 15ms\"]"},
		{"servers: [1, 2, 3, 4, 5, 6, 7, 8]\nclients: [1, 2, 4, 8, 16]\nrate: [1, 2, 4]", cpu + "objective: usd_per_hour\nconstraints: [\"throughput >= 15000/s\", \"p99 <= 30ms\"]"},
		{"instances: [1, 2, 4, 8]\nbatch_size: [1, 2, 4, 8, 16, 32]\nclients: [1, 2, 4, 8, 16]", cpu + "objective: throughput\nconstraints: [\"p99 <= 10ms\"]"},
		{"gpus: [1, 2, 3, 4, 6, 8]\ninstances: [1, 2, 3, 4]\nclients: [1, 2, 4, 8, 16, 32, 64]\nbatch_size: [1, 4, 16]", gpuPrices + "\nconstraints: [\"p99 <= 20ms\"]"},
	}
	var hits, total, nofeas int
	var pts, worst float64
	for i := 0; i < 240; i++ {
		tp := tmpls[i%len(tmpls)]
		m := synth{capPerGPU: 1000 + rng.Float64()*4000, bestInst: 1 + rng.Float64()*6, instWidth: 0.5 + rng.Float64()*1.5,
			perClient: 200 + rng.Float64()*800, gpuLoss: rng.Float64() * 0.3, baseMS: 1 + rng.Float64()*3, noise: rng.Float64() * 0.04}
		if rng.Float64() < 0.5 {
			m.thrash = 10 + rng.Float64()*60
		}
		if rng.Float64() < 0.7 {
			m.batchHalf = 2 + rng.Float64()*20
		}
		bc := benchCase{"r", func(t testing.TB) *scenarios.Scenario { return scenarioOf(t, tp.dims, tp.cost, "") }, m}
		s := bc.s(t)
		if bestFeasible(t, s, gridRecords(t, s, m)) == nil {
			nofeas++
			continue
		}
		a, g, r, _ := compare(t, bc)
		total++
		pts += float64(a) / float64(g)
		if r <= 1.05 {
			hits++
		} else {
			//t.Logf("miss tmpl %d: %d/%d ratio %.3f %s %#v", i%len(tmpls), a, g, r, why, m)
		}
		if r > worst {
			worst = r
		}
	}
	t.Logf("hits %d/%d (nofeas %d) mean points %.1f%% worst %.3f", hits, total, nofeas, 100*pts/float64(total), worst)
}
