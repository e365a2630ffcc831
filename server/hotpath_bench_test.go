package server_test

import (
	"context"
	"testing"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/server"
)

// BenchmarkInferPath is the server's own work for one request of the
// talk's (batch 8 of the mlp), without the transport: ModelInfer called
// as gRPC calls it, after unmarshalling and before marshalling. It
// includes the MLP's compute; compare allocs/op and B/op, and ns/op beside
// BenchmarkDenseBatch8 in internal/backend. "parallel" runs 8 callers
// on the two instances, as the talk's 8 requests in flight do.
func BenchmarkInferPath(b *testing.B) {
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	req := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{talkBatch, 64}, Data: ramp(talkBatch*64, 1)})
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		c0 := processCPU()
		for i := 0; i < b.N; i++ {
			if _, err := srv.ModelInfer(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4) // × GOMAXPROCS 2 on the development machine: 8 in flight
		c0 := processCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := srv.ModelInfer(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
	})
}
