package measure

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/workload"
)

// serveEnv makes the test binary an embedded server (see TestMain), so
// that memory benchmarks see the client's allocations only.
const serveEnv = "IAASBENCH_MEASURE_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: quietLogger()})
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(srv.Addr())
		// Serve until the parent closes our stdin.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		srv.Stop()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverProcess starts an embedded server in a child process.
func serverProcess(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), serveEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		b.Fatalf("server process: %q %v", line, err)
	}
	return strings.TrimSpace(line)
}

// BenchmarkRecord is the load loop's own work per request: claim a
// request, read the clock twice, record the latency. It must not
// allocate.
func BenchmarkRecord(b *testing.B) {
	o, _ := Options{Addrs: []string{"x"}, Model: "m", Mode: workload.ModeOpen, Arrival: workload.ArrivalPoisson, Rate: 1000}.withDefaults()
	r := &run{o: &o, epoch: time.Now(), stopCh: make(chan struct{})}
	c := &clientLoad{sched: newSchedule(&o, 0)}
	rec := r.newRecorder()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ok, _, warm := r.take(c)
		if !ok {
			b.Fatal("no request")
		}
		at := c.sched.next()
		t0 := r.now()
		rec.record(r.now()-t0+at%1000, warm)
	}
}

// BenchmarkClientMemory shows that a measurement's memory does not grow
// with its number of requests: the client process (the server runs in
// another) allocates the same per request at 1e4 and 1e5 requests, the
// same as a bare grpc-go loop, and keeps the same after it.
func BenchmarkClientMemory(b *testing.B) {
	addr := serverProcess(b)
	for _, n := range []int64{10_000, 100_000} {
		for _, rpc := range []string{workload.RPCUnary, workload.RPCStream} {
			b.Run(fmt.Sprintf("measure-%s/requests=%d", rpc, n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					o := quick(addr, "mlp")
					o.RPC, o.Clients, o.Requests, o.Warmup = rpc, 4, n, 0
					var m *results.Measurement
					memBench(b, n, func() {
						var err error
						if m, err = Run(context.Background(), o); err != nil {
							b.Fatal(err)
						}
					}, func() int {
						js, _ := json.Marshal(m)
						return len(js)
					})
				}
			})
		}
		b.Run(fmt.Sprintf("minimal-grpc-unary/requests=%d", n), func(b *testing.B) {
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			stub := pb.NewGRPCInferenceServiceClient(conn)
			req := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{1, 64}, Data: make([]float32, 64)})
			for i := 0; i < b.N; i++ {
				memBench(b, n, func() {
					for k := int64(0); k < n; k++ {
						if _, err := stub.ModelInfer(context.Background(), req); err != nil {
							b.Fatal(err)
						}
					}
				}, func() int { return 0 })
			}
		})
	}
}

func memBench(b *testing.B, n int64, work func(), size func() int) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	work()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/req")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "B/req")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)), "retained-B")
	b.ReportMetric(float64(size()), "json-B")
}
