package backend

import (
	"context"
	"testing"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// BenchmarkDenseBatch8 is one execution of the talk's MLP at batch 8, the
// server's largest CPU cost per request: the AVX2/FMA tiles (where the CPU
// has them) beside gonum's row-wise Sgemv. A batched gonum Sgemm measured
// ~1.7× slower than row-wise Sgemv here because it starts goroutines.
func BenchmarkDenseBatch8(b *testing.B) {
	for _, path := range []struct {
		name    string
		rowwise bool
	}{{"tiles", false}, {"sgemv", true}} {
		b.Run(path.name, func(b *testing.B) {
			if !path.rowwise && !haveTiles() {
				b.Skip("no AVX2/FMA on this CPU")
			}
			d := NewDense([]int{64, 256, 128, 64, 1}, "relu", "sigmoid", 1)
			d.rowwise = path.rowwise
			inst, _ := d.NewInstance()
			x := make([]float32, 8*64)
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			batch := &Batch{Rows: 8, Inputs: []Tensor{{Type: pb.DataType_TYPE_FP32, Shape: []int64{8, 64}, FP32: x}}}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := inst.Execute(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
