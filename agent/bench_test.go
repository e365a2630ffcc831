package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/measure"
)

// BenchmarkAgentsVsOneProcess compares, in one run on the same embedded
// server, K=2 local agent processes with one in-process load generator
// driving the same total clients. Target: ratio ≥ 0.9.
func BenchmarkAgentsVsOneProcess(b *testing.B) {
	srv := embedded(b)
	opts := measure.Options{Addrs: []string{srv.Addr()}, Model: "mlp", BatchSize: 8, Clients: 8, Warmup: 300 * time.Millisecond,
		Duration: 2 * time.Second, NoTelemetry: true}
	pool, err := agent.StartPool(2, selfAgent)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	var one, agents float64
	for i := 0; i < b.N; i++ {
		m, err := measure.Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		one += m.ThroughputIPS
		m, err = pool.Measure(context.Background(), opts, 2, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		agents += m.ThroughputIPS
	}
	b.ReportMetric(one/float64(b.N), "one-process-inf/s")
	b.ReportMetric(agents/float64(b.N), "2-agents-inf/s")
	b.ReportMetric(agents/one, "agents/one-ratio")
}
