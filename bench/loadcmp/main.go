// Command loadcmp compares iaasbench's load loop with the practical limit
// of a minimal hand-written grpc-go loop and with ghz, all driving
// ModelInfer of the same embedded mlp model at the same concurrency for
// the same time, in unary and streaming mode. Contenders take turns
// (interleaved rounds) so that drift in a shared machine's load hits each
// alike.
//
//	go run ./bench/loadcmp -c 8 -d 3s -rounds 2
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/iaasbench/iaasbench/bench/internal/closedloop"
	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/workload"
)

// result is one contender's run. cpuUS is the CPU time, client and
// server together, per request: unlike req/s it hardly depends on what
// else a shared machine runs.
type result struct {
	rps, p50us, cpuUS float64
	err               error
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	conc := flag.Int("c", 8, "requests in flight (one per client goroutine)")
	dur := flag.Duration("d", 3*time.Second, "measured time of each run")
	warm := flag.Duration("warmup", 500*time.Millisecond, "warm-up before each run's measurement")
	batch := flag.Int("batch", 8, "batch size of each request")
	rounds := flag.Int("rounds", 3, "interleaved rounds; figures are medians over rounds")
	ghzPath := flag.String("ghz", "", "ghz binary (default: ghz on PATH or in $(go env GOPATH)/bin)")
	proto := flag.String("proto", "proto", "directory of grpc_service.proto (for ghz)")
	only := flag.String("rpc", "", "unary or stream only (default: both)")
	verbose := flag.Bool("v", false, "print every round")
	flag.Parse()
	if err := run(*conc, *dur, *warm, *batch, *rounds, *ghzPath, *proto, *only, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "loadcmp:", err)
		os.Exit(1)
	}
}

func run(conc int, dur, warm time.Duration, batch, rounds int, ghzPath, protoDir, only string, verbose bool) error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: quiet})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Stop()
	addr := srv.Addr()

	x := make([]float32, batch*64)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = rng.Float32()
	}
	req := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{int64(batch), 64}, Data: x})

	ghz, ghzWhy := findGhz(ghzPath)
	if ghz == "" {
		fmt.Printf("ghz: skipped (%s). Install it with: go install github.com/bojand/ghz/cmd/ghz@v0.120.0\n", ghzWhy)
	}
	fmt.Printf("embedded mlp at %s, batch %d, concurrency %d, %v per run after %v warm-up, %d round(s), GOMAXPROCS %d\n\n",
		addr, batch, conc, dur, warm, rounds, gomaxprocs())

	type contender struct {
		name string
		run  func() result
	}
	modes := []struct {
		rpc        string
		contenders []contender
	}{
		{workload.RPCUnary, []contender{
			{"iaasbench measure", func() result { return runMeasure(addr, workload.RPCUnary, conc, batch, warm, dur) }},
			{"minimal grpc-go loop", func() result { return minimalUnary(addr, req, conc, warm, dur) }},
		}},
		{workload.RPCStream, []contender{
			{"iaasbench measure", func() result { return runMeasure(addr, workload.RPCStream, conc, batch, warm, dur) }},
			{"minimal grpc-go loop", func() result { return minimalStream(addr, req, conc, warm, dur) }},
		}},
	}
	if ghz != "" {
		modes[0].contenders = append(modes[0].contenders, contender{"ghz v0.120.0", func() result {
			return runGhz(ghz, protoDir, addr, req, conc, dur)
		}})
	}
	for _, m := range modes {
		if only != "" && m.rpc != only {
			continue
		}
		runs := make([][]result, len(m.contenders))
		for r := 0; r < rounds; r++ {
			for i, c := range m.contenders {
				res := c.run()
				if verbose {
					fmt.Printf("  round %d %s %s: %.0f req/s p50 %.0f µs, %.0f µs CPU/req %v\n", r+1, m.rpc, c.name, res.rps, res.p50us, res.cpuUS, res.err)
				}
				runs[i] = append(runs[i], res)
			}
		}
		sums := make([]result, len(m.contenders))
		for i := range runs {
			sums[i] = median(runs[i])
		}
		fmt.Printf("%s RPCs (ghz drives unary ModelInfer only):\n", m.rpc)
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "contender\treq/s\tinfer/s\tp50 µs\treq/s ÷ minimal\tCPU µs/req\tefficiency ÷ minimal\t")
		minimal := sums[1]
		for i, c := range m.contenders {
			if sums[i].err != nil {
				fmt.Fprintf(tw, "%s\terror: %v\t\t\t\t\t\t\n", c.name, sums[i].err)
				continue
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.2f×\t%.0f\t%.2f×\t\n", c.name, sums[i].rps, sums[i].rps*float64(batch), sums[i].p50us,
				sums[i].rps/minimal.rps, sums[i].cpuUS, minimal.cpuUS/sums[i].cpuUS)
		}
		tw.Flush()
		if len(m.contenders) > 2 && sums[2].err == nil && sums[2].rps > 0 {
			fmt.Printf("iaasbench measure ÷ ghz: %.2f× req/s, %.2f× CPU efficiency\n", sums[0].rps/sums[2].rps, sums[2].cpuUS/sums[0].cpuUS)
		}
		fmt.Println()
	}
	return nil
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

func runMeasure(addr, rpc string, conc, batch int, warm, dur time.Duration) result {
	opts := measure.Options{
		Addrs: []string{addr}, Model: "mlp", RPC: rpc, BatchSize: batch,
		Clients: conc, Concurrency: 1, SharedConnection: true,
		Warmup: warm, Duration: dur, Window: dur, NoTelemetry: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	m, err := measure.Run(context.Background(), opts)
	if err != nil {
		return result{err: err}
	}
	// CPU per request from a run as long without warm-up, where every
	// request counts, so that the CPU time and the count cover the same
	// span (setup is then spread over as many requests as the minimal
	// loop's).
	opts.Warmup, opts.Duration, opts.Window = 0, warm+dur, warm+dur
	c0 := cpuTime()
	mc, err := measure.Run(context.Background(), opts)
	cpu := cpuTime() - c0
	if err != nil {
		return result{err: err}
	}
	return result{rps: m.ThroughputRPS, p50us: m.Latency.P50US, cpuUS: float64(cpu.Microseconds()) / float64(mc.Requests)}
}

// loop runs the minimal closed loop, with this process's CPU per request.
func loop(conc int, warm, dur time.Duration, body func(g int) (time.Duration, error)) result {
	c0 := cpuTime()
	o, err := closedloop.Run(conc, warm, dur, body)
	cpu := cpuTime() - c0
	if err != nil {
		return result{err: err}
	}
	return result{rps: o.RPS, p50us: float64(o.P50) / 1e3, cpuUS: float64(cpu.Microseconds()) / float64(o.Total)}
}

func dial(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// minimalUnary is the practical limit: conc goroutines calling the
// generated stub on one connection, nothing else.
func minimalUnary(addr string, req *pb.ModelInferRequest, conc int, warm, dur time.Duration) result {
	conn, err := dial(addr)
	if err != nil {
		return result{err: err}
	}
	defer conn.Close()
	stub := pb.NewGRPCInferenceServiceClient(conn)
	ctx := context.Background()
	return loop(conc, warm, dur, func(int) (time.Duration, error) {
		t0 := time.Now()
		_, err := stub.ModelInfer(ctx, req)
		return time.Since(t0), err
	})
}

// minimalStream: one bidirectional stream per goroutine on one
// connection, one request outstanding on each.
func minimalStream(addr string, req *pb.ModelInferRequest, conc int, warm, dur time.Duration) result {
	conn, err := dial(addr)
	if err != nil {
		return result{err: err}
	}
	defer conn.Close()
	stub := pb.NewGRPCInferenceServiceClient(conn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := make([]grpc.BidiStreamingClient[pb.ModelInferRequest, pb.ModelStreamInferResponse], conc)
	for i := range streams {
		if streams[i], err = stub.ModelStreamInfer(ctx); err != nil {
			return result{err: err}
		}
	}
	return loop(conc, warm, dur, func(g int) (time.Duration, error) {
		t0 := time.Now()
		if err := streams[g].Send(req); err != nil {
			return 0, err
		}
		_, err := streams[g].Recv()
		return time.Since(t0), err
	})
}

func findGhz(path string) (string, string) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", err.Error()
		}
		return path, ""
	}
	if p, err := exec.LookPath("ghz"); err == nil {
		return p, ""
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(string(bytes.TrimSpace(out)), "bin", "ghz")
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	return "", "ghz not found on PATH nor in GOPATH/bin"
}

// runGhz drives ModelInfer with ghz over one connection, conc workers.
func runGhz(ghz, protoDir, addr string, req *pb.ModelInferRequest, conc int, dur time.Duration) result {
	data, err := protojson.Marshal(req)
	if err != nil {
		return result{err: err}
	}
	f, err := os.CreateTemp("", "loadcmp-*.json")
	if err != nil {
		return result{err: err}
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		return result{err: err}
	}
	f.Close()
	cmd := exec.Command(ghz, "--insecure",
		"--proto", filepath.Join(protoDir, "grpc_service.proto"), "--import-paths", protoDir,
		"--call", "inference.GRPCInferenceService.ModelInfer",
		"--data-file", f.Name(), "-c", fmt.Sprint(conc), "--connections", "1",
		"-z", dur.String(), "-O", "json", addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	c0 := cpuTime()
	out, err := cmd.Output()
	serverCPU := cpuTime() - c0
	if err != nil {
		return result{err: fmt.Errorf("ghz: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))}
	}
	var rep struct {
		Count   int64   `json:"count"`
		RPS     float64 `json:"rps"`
		Latency []struct {
			Percentage int   `json:"percentage"`
			Latency    int64 `json:"latency"`
		} `json:"latencyDistribution"`
		StatusCodes map[string]int `json:"statusCodeDistribution"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return result{err: fmt.Errorf("ghz output: %w", err)}
	}
	if rep.StatusCodes["OK"] == 0 {
		return result{err: fmt.Errorf("ghz: no OK responses: %v", rep.StatusCodes)}
	}
	ghzCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	res := result{rps: rep.RPS, cpuUS: float64((serverCPU + ghzCPU).Microseconds()) / float64(rep.Count)}
	for _, l := range rep.Latency {
		if l.Percentage == 50 {
			res.p50us = float64(l.Latency) / 1e3
		}
	}
	return res
}

// median takes each figure's median over the rounds; any error wins.
func median(rs []result) result {
	var out result
	var rps, p50, cpu []float64
	for _, r := range rs {
		if r.err != nil {
			return r
		}
		rps, p50, cpu = append(rps, r.rps), append(p50, r.p50us), append(cpu, r.cpuUS)
	}
	mid := func(v []float64) float64 {
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	out.rps, out.p50us, out.cpuUS = mid(rps), mid(p50), mid(cpu)
	return out
}
