package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/server"
)

// The talk's batch size and the concurrency bench/ uses for its workload.
const talkBatch, talkConcurrency = 8, 8

// runUnary sends n requests over `conc` goroutines sharing a connection.
func runUnary(b *testing.B, c *client.Client, n, conc int) time.Duration {
	req := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{talkBatch, 64}, Data: ramp(talkBatch*64, 1)})
	var wg sync.WaitGroup
	per := n / conc
	t0 := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp pb.ModelInferResponse
			for k := 0; k < per; k++ {
				if err := c.InferInto(context.Background(), req, &resp); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(t0)
}

// BenchmarkMLPInstancesBatching reports mlp throughput at batch 8 over 1–4
// instances, with and without dynamic batching, at concurrency 8.
func BenchmarkMLPInstancesBatching(b *testing.B) {
	for _, batching := range []bool{false, true} {
		for inst := 1; inst <= 4; inst++ {
			b.Run(fmt.Sprintf("batching=%v/instances=%d", batching, inst), func(b *testing.B) {
				_, c := start(b, server.Options{MetricsAddr: "off"})
				cfg, err := c.ModelConfig(context.Background(), "mlp", "")
				if err != nil {
					b.Fatal(err)
				}
				cfg = proto.Clone(cfg).(*pb.ModelConfig)
				cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: int32(inst), Kind: pb.ModelInstanceGroup_KIND_CPU}}
				if batching {
					cfg.SchedulingChoice = &pb.ModelConfig_DynamicBatching{DynamicBatching: &pb.ModelDynamicBatching{MaxQueueDelayMicroseconds: 100}}
				}
				if err := c.Load(context.Background(), "mlp", cfg); err != nil {
					b.Fatal(err)
				}
				const n = 20000
				runUnary(b, c, 1000, talkConcurrency)
				b.ResetTimer()
				var total time.Duration
				for i := 0; i < b.N; i++ {
					total += runUnary(b, c, n, talkConcurrency)
				}
				b.ReportMetric(float64(n*talkBatch)*float64(b.N)/total.Seconds(), "inferences/s")
			})
		}
	}
}
