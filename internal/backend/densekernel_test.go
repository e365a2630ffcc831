package backend

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// naive is an independent forward pass in float64: the oracle.
func naive(d *Dense, x []float32, rows int) []float64 {
	var out []float64
	for r := 0; r < rows; r++ {
		cur := make([]float64, d.Layers[0].In)
		for i := range cur {
			cur[i] = float64(x[r*d.Layers[0].In+i])
		}
		for _, l := range d.Layers {
			next := make([]float64, l.Out)
			for j := range next {
				s := float64(l.B[j])
				for i := 0; i < l.In; i++ {
					s += float64(l.W[j*l.In+i]) * cur[i]
				}
				switch l.Activation {
				case "relu":
					s = math.Max(s, 0)
				case "sigmoid":
					s = 1 / (1 + math.Exp(-s))
				}
				next[j] = s
			}
			cur = next
		}
		out = append(out, cur...)
	}
	return out
}

func execute(t *testing.T, d *Dense, x []float32, rows int) []float32 {
	t.Helper()
	inst, err := d.NewInstance()
	if err != nil {
		t.Fatal(err)
	}
	b := &Batch{Rows: rows, Inputs: []Tensor{{Type: pb.DataType_TYPE_FP32, Shape: []int64{int64(rows), int64(d.Layers[0].In)}, FP32: x}}}
	if err := inst.Execute(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b.Outputs[0].FP32
}

func randomInput(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// Sizes around the tile's 16 columns and 4 rows, odd input counts, each
// activation, against the float64 oracle and against the Sgemv path.
func TestTilesMatchOracle(t *testing.T) {
	if !haveTiles() {
		t.Skip("this CPU has no AVX2/FMA: the dense backend runs row-wise Sgemv")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	nets := [][]int{
		{64, 256, 128, 64, 1}, // the talk's MLP
		{64, 32, 16, 64},      // the noise remover
		{1, 1},
		{3, 17, 15, 33, 2},
		{37, 16, 31, 1},
		{300, 5},
	}
	for _, sizes := range nets {
		for _, act := range []string{"relu", "sigmoid", "none"} {
			for _, outAct := range []string{"sigmoid", "none"} {
				d := NewDense(sizes, act, outAct, rng.Uint64())
				rowwise := *d
				rowwise.rowwise = true
				for _, rows := range []int{1, 2, 3, 4, 5, 8, 9, 13} {
					x := randomInput(rng, rows*sizes[0])
					got := execute(t, d, x, rows)
					ref := execute(t, &rowwise, x, rows)
					want := naive(d, x, rows)
					if len(got) != len(want) {
						t.Fatalf("%v rows %d: %d outputs, want %d", sizes, rows, len(got), len(want))
					}
					for i := range want {
						tol := 1e-4 * math.Max(1, math.Abs(want[i]))
						if math.Abs(float64(got[i])-want[i]) > tol || math.Abs(float64(ref[i])-want[i]) > tol {
							t.Fatalf("%v %s/%s rows %d output %d: tiles %g, Sgemv %g, float64 %g", sizes, act, outAct, rows, i, got[i], ref[i], want[i])
						}
					}
				}
			}
		}
	}
}

// A row's outputs are the same bits alone as in any batch: dynamic
// batching must not change a request's answer.
func TestTilesBatchInvariant(t *testing.T) {
	if !haveTiles() {
		t.Skip("this CPU has no AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	d := NewDense([]int{64, 256, 128, 64, 3}, "relu", "none", 1)
	const rows = 11
	x := randomInput(rng, rows*64)
	batch := execute(t, d, x, rows)
	for r := 0; r < rows; r++ {
		alone := execute(t, d, x[r*64:(r+1)*64], 1)
		for c := range alone {
			if math.Float32bits(alone[c]) != math.Float32bits(batch[r*3+c]) {
				t.Fatalf("row %d output %d: %g alone, %g in a batch of %d", r, c, alone[c], batch[r*3+c], rows)
			}
		}
	}
}
