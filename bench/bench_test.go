// Package bench holds iaasbench's speed benchmarks (make bench): the
// talk's 500,000 inferences through the embedded server, client included.
// The comparison with a minimal grpc-go loop and ghz is the loadcmp
// command beside it.
package bench

import (
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/workload"
)

// talkSeconds is the talk's time for its 500,000 inferences.
const talkSeconds = 18.0

// BenchmarkTalk500k runs the talk's workload: 62,500 requests of batch 8
// of the MLP at concurrency 8 through the embedded server, over unary
// RPCs and over streams, timed from the first request to the last
// response. Run it with -benchtime 1x: one op is the whole workload.
func BenchmarkTalk500k(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	cases := []struct {
		name                 string
		rpc                  string
		clients, concurrency int
	}{
		{"unary/8-clients", workload.RPCUnary, 8, 1},
		{"stream/8-streams", workload.RPCStream, 8, 1},
		{"stream/1-stream-8-in-flight", workload.RPCStream, 1, 8},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var measured, wall, cpu time.Duration
			for i := 0; i < b.N; i++ {
				c0 := cpuTime()
				t0 := time.Now()
				m, err := measure.Run(context.Background(), measure.Options{
					Addrs: []string{srv.Addr()}, Model: "mlp", BatchSize: 8, RPC: tc.rpc,
					Clients: tc.clients, Concurrency: tc.concurrency, SharedConnection: true,
					Warmup: 0, Requests: 62500, Window: time.Second, NoTelemetry: true, Logger: quiet,
				})
				wall += time.Since(t0)
				cpu += cpuTime() - c0
				if err != nil {
					b.Fatal(err)
				}
				if m.Inferences != 500000 || m.Errors != 0 {
					b.Fatalf("%d inferences, %d errors: want 500000 and 0", m.Inferences, m.Errors)
				}
				measured += time.Duration(m.DurationS * float64(time.Second))
			}
			s := wall.Seconds() / float64(b.N)
			b.ReportMetric(s, "s/500k")
			b.ReportMetric(measured.Seconds()/float64(b.N), "measured-s/500k")
			b.ReportMetric(talkSeconds/s, "x-faster-than-talk")
			b.ReportMetric(500000/s, "infer/s")
			// CPU time (client and server, this process) does not depend on
			// what else the machine runs: on 2 idle cores the wall time can
			// approach half of it.
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/500k")
		})
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
