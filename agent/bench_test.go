package agent_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/measure"
)

// BenchmarkAgentsVsOneProcess compares, in one run on the same embedded
// server (a process of its own, as `iaasbench serve`), K=2 local agent
// processes with one load-generating process driving the same total
// clients. Target: ratio ≥ 0.9.
func BenchmarkAgentsVsOneProcess(b *testing.B) {
	addr := serveInChild(b)
	opts := measure.Options{Addrs: []string{addr}, Model: "mlp", BatchSize: 8, Clients: 8, Warmup: 300 * time.Millisecond,
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

// serveInChild starts this test binary as an embedded server process.
func serveInChild(b *testing.B) string {
	file := filepath.Join(b.TempDir(), "addr")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "IAASBENCH_SERVE_ADDR_FILE="+file)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 500; i++ {
		if a, err := os.ReadFile(file); err == nil && len(a) > 0 {
			return string(a)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatal("server process did not start")
	return ""
}
