package simulate

import (
	"context"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/workload"
)

// largeConfig is the scale the simulator exists for: 100 servers × 10
// GPUs (1,000 devices) fed by 10,000 open-loop streams at r = 8 for 10
// simulated seconds (800,000 requests), with the H200 profile of the
// talk's MLP.
func largeConfig(b *testing.B, arrival string, sequence bool) Config {
	p, err := device.Load("h200-mlp")
	if err != nil {
		b.Fatal(err)
	}
	return Config{
		Servers: 100, GPUs: 10, Instances: 1, Clients: 100,
		Mode: workload.ModeOpen, Arrival: arrival, Rate: 8, BatchSize: 8, Sequence: sequence,
		ServiceTime: p.ServiceTime, Overhead: DefaultOverhead,
		Duration: 10 * time.Second, Seed: 1,
	}
}

func benchLarge(b *testing.B, c Config) {
	b.ReportAllocs()
	var r *Result
	for b.Loop() {
		var err error
		if r, err = Simulate(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	// 10,000 streams × 8/s × 10 s = 800,000 sent; the last few are still
	// in flight when the window closes.
	if r.Requests < 799_000 || r.Requests > 800_000 {
		b.Fatalf("%d requests, want about 800,000", r.Requests)
	}
	b.ReportMetric(float64(r.Events), "events/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(r.Events), "ns/event")
}

// BenchmarkSimulateLarge: 1,000 GPUs, 10,000 streams at r = 8, constant
// arrivals, 10 simulated seconds.
func BenchmarkSimulateLarge(b *testing.B) {
	benchLarge(b, largeConfig(b, workload.ArrivalConstant, false))
}

// BenchmarkSimulateLargeFrames: the same with 1 s frame bursts and each
// stream a sequence pinned to one instance (DeepClean online at scale).
func BenchmarkSimulateLargeFrames(b *testing.B) {
	benchLarge(b, largeConfig(b, workload.ArrivalFrames, true))
}
