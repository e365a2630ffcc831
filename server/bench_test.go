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

// talkRequests is the talk's workload: 500,000 inferences of the MLP as
// 62,500 requests of batch 8.
const talkRequests, talkBatch, talkConcurrency = 62500, 8, 8

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

// runStream keeps `conc` requests in flight on one bidirectional stream.
func runStream(b *testing.B, c *client.Client, n, conc int) time.Duration {
	req := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{talkBatch, 64}, Data: ramp(talkBatch*64, 1)})
	st, err := c.OpenStream(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	credits := make(chan struct{}, conc)
	for i := 0; i < conc; i++ {
		credits <- struct{}{}
	}
	t0 := time.Now()
	done := make(chan error, 1)
	go func() {
		var m pb.ModelStreamInferResponse
		for i := 0; i < n; i++ {
			if err := st.RecvInto(&m); err != nil {
				done <- err
				return
			}
			credits <- struct{}{}
		}
		done <- nil
	}()
	for i := 0; i < n; i++ {
		<-credits
		if err := st.Send(req); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// BenchmarkTalkWorkload reports how long the talk's 500,000 inferences
// take through the embedded server, client included, and the ratio to the
// talk's 18 s GPU loop (anchors: 13.7 s measured on an H200).
func BenchmarkTalkWorkload(b *testing.B) {
	for _, mode := range []string{"unary", "stream"} {
		b.Run(mode, func(b *testing.B) {
			_, c := start(b, server.Options{MetricsAddr: "off"})
			run := runUnary
			if mode == "stream" {
				run = runStream
			}
			run(b, c, 2000, talkConcurrency) // warm up connections and buffers
			b.ResetTimer()
			var total time.Duration
			for i := 0; i < b.N; i++ {
				total += run(b, c, talkRequests, talkConcurrency)
			}
			s := total.Seconds() / float64(b.N)
			b.ReportMetric(s, "s/500k-inferences")
			b.ReportMetric(18/s, "x-faster-than-talk-18s")
			b.ReportMetric(float64(talkRequests*talkBatch)/s, "inferences/s")
		})
	}
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
