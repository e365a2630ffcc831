// Command httpcmp compares iaasbench's load loop over KServe v2 REST with
// a minimal hand-written net/http loop, and HTTP with gRPC, all against
// one `iaasbench serve` process (built here, run as a process of its own)
// driving the same model with the same request bytes at the same
// concurrency for the same time. Contenders take turns (interleaved
// rounds) so that drift in a shared machine's load hits each alike;
// figures are medians over rounds.
//
//	go run ./bench/httpcmp -c 8 -d 2s -rounds 5
//
// It exits 1 when iaasbench measure over HTTP with binary tensors makes
// fewer than -min-ratio times the minimal loop's requests per second.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iaasbench/iaasbench/bench/internal/closedloop"
	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/measure"
)

// result is one contender's run: requests per second, median latency,
// and CPU time per request of this process (the client) and of the
// server process.
type result struct {
	rps, p50us, clientCPU, serverCPU float64
	err                              error
}

func main() {
	conc := flag.Int("c", 8, "requests in flight (one per client)")
	dur := flag.Duration("d", 2*time.Second, "measured time of each run")
	warm := flag.Duration("warmup", 500*time.Millisecond, "warm-up before each run's measurement")
	batch := flag.Int("batch", 8, "batch size of the mlp's requests")
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	minRatio := flag.Float64("min-ratio", 0.9, "fail unless iaasbench measure over HTTP (binary) reaches this fraction of the minimal loop's req/s")
	bin := flag.String("serve", "", "iaasbench binary to serve with (default: built from this checkout)")
	verbose := flag.Bool("v", false, "print every round")
	flag.Parse()
	if err := run(*conc, *dur, *warm, *batch, *rounds, *minRatio, *bin, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "httpcmp:", err)
		os.Exit(1)
	}
}

func run(conc int, dur, warm time.Duration, batch, rounds int, minRatio float64, bin string, verbose bool) error {
	if bin == "" {
		dir, err := os.MkdirTemp("", "httpcmp-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "iaasbench")
		build := exec.Command("go", "build", "-o", bin, "./cmd/iaasbench")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build iaasbench: %w", err)
		}
	}
	srv, err := startServe(bin)
	if err != nil {
		return err
	}
	defer srv.stop()

	// measure's own input data (its generator with seed 1), so that the
	// minimal loops send the very bytes measure does.
	x := make([]float32, batch*64)
	rng := rand.New(rand.NewPCG(1, 0x1aa5))
	for i := range x {
		x[i] = rng.Float32()
	}
	raw := client.EncodeFP32(x)
	// The bytes iaasbench measure sends (unary requests carry no id),
	// built here by hand from the protocol.
	head := fmt.Sprintf(`{"parameters":{"binary_data_output":true},"inputs":[{"name":"x","shape":[%d,64],"datatype":"FP32","parameters":{"binary_data_size":%d}}]}`, batch, len(raw))
	binaryBody := append([]byte(head), raw...)
	var data strings.Builder
	for i, v := range x {
		if i > 0 {
			data.WriteByte(',')
		}
		data.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
	}
	jsonBody := []byte(fmt.Sprintf(`{"inputs":[{"name":"x","shape":[%d,64],"datatype":"FP32","data":[%s]}]}`, batch, data.String()))
	pbReq := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{int64(batch), 64}, Data: x})

	fmt.Printf("iaasbench serve (pid %d) at %s and %s, mlp batch %d, concurrency %d, %v per run after %v warm-up, %d round(s), GOMAXPROCS %d\n",
		srv.cmd.Process.Pid, srv.grpc, srv.http, batch, conc, dur, warm, rounds, runtime.GOMAXPROCS(0))
	fmt.Printf("request bytes: binary %d (JSON head %d + tensor %d), json %d\n\n", len(binaryBody), len(head), len(raw), len(jsonBody))

	infer := srv.http + "/v2/models/mlp/infer"
	contenders := []struct {
		name string
		run  func() result
	}{
		{"minimal net/http loop, binary", func() result {
			return minimalHTTP(srv, infer, binaryBody, len(head), conc, warm, dur)
		}},
		{"iaasbench measure, HTTP binary", func() result {
			return runMeasure(srv, srv.http, client.EncodingBinary, conc, batch, warm, dur)
		}},
		{"minimal net/http loop, JSON", func() result { return minimalHTTP(srv, infer, jsonBody, -1, conc, warm, dur) }},
		{"iaasbench measure, HTTP JSON", func() result {
			return runMeasure(srv, srv.http, client.EncodingJSON, conc, batch, warm, dur)
		}},
		{"minimal grpc-go loop", func() result { return minimalGRPC(srv, pbReq, conc, warm, dur) }},
		{"iaasbench measure, gRPC", func() result { return runMeasure(srv, srv.grpc, "", conc, batch, warm, dur) }},
	}
	runs := make([][]result, len(contenders))
	for r := 0; r < rounds; r++ {
		for i, c := range contenders {
			res := c.run()
			if verbose {
				fmt.Printf("  round %d %-32s %6.0f req/s p50 %5.0f µs, CPU µs/req client %5.1f server %5.1f %v\n", r+1, c.name, res.rps, res.p50us, res.clientCPU, res.serverCPU, res.err)
			}
			runs[i] = append(runs[i], res)
		}
	}
	sums := make([]result, len(runs))
	for i := range runs {
		sums[i] = median(runs[i])
	}
	// Ratios are taken within a round (each pair ran back to back), then
	// their median: drift in the machine's load between rounds cancels.
	paired := func(a, b int) float64 {
		var v []float64
		for r := range runs[a] {
			if runs[a][r].err == nil && runs[b][r].err == nil && runs[b][r].rps > 0 {
				v = append(v, runs[a][r].rps/runs[b][r].rps)
			}
		}
		return mid(v)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "contender\treq/s\tp50 µs\tclient CPU µs/req\tserver CPU µs/req\treq/s ÷ its minimal loop (median of rounds)\t")
	for i, c := range contenders {
		s := sums[i]
		if s.err != nil {
			fmt.Fprintf(tw, "%s\terror: %v\t\t\t\t\t\n", c.name, s.err)
			continue
		}
		ratio := ""
		if i%2 == 1 && sums[i-1].err == nil {
			ratio = fmt.Sprintf("%.2f×", paired(i, i-1))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.1f\t%.1f\t%s\t\n", c.name, s.rps, s.p50us, s.clientCPU, s.serverCPU, ratio)
	}
	tw.Flush()
	for _, s := range sums {
		if s.err != nil {
			return s.err
		}
	}
	bin8, jsn, grpcM := sums[1], sums[3], sums[5]
	fmt.Printf("\niaasbench measure, side by side: gRPC %.0f req/s, HTTP binary %.0f req/s (%.2f× gRPC), HTTP JSON %.0f req/s (%.2f× gRPC)\n",
		grpcM.rps, bin8.rps, paired(1, 5), jsn.rps, paired(3, 5))
	ratio := paired(1, 0)
	fmt.Printf("HTTP binary: iaasbench measure ÷ minimal net/http loop = %.2f× (target ≥ %.2f×)\n", ratio, minRatio)
	if ratio < minRatio {
		return fmt.Errorf("iaasbench measure over HTTP (binary) made %.2f× the minimal loop's requests per second, below %.2f×", ratio, minRatio)
	}
	return nil
}

// serveProc is `iaasbench serve` running as its own process.
type serveProc struct {
	cmd        *exec.Cmd
	grpc, http string
}

var served = regexp.MustCompile(`gRPC on grpc://(\S+), HTTP on (http://\S+),`)

func startServe(bin string) (*serveProc, error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--metrics-addr", "off")
	cmd.Env = append(os.Environ(), "IAASBENCH_LOG=warn")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	m := served.FindStringSubmatch(line)
	if err != nil || m == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("iaasbench serve said %q (%v)", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &serveProc{cmd: cmd, grpc: m[1], http: m[2]}, nil
}

func (s *serveProc) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// cpu is the server process's user and system CPU time, from /proc.
func (s *serveProc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces), counted from
	// field 3: utime is field 14, stime 15, in clock ticks (USER_HZ, 100).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runMeasure(srv *serveProc, addr, encoding string, conc, batch int, warm, dur time.Duration) result {
	opts := measure.Options{
		Addrs: []string{addr}, Conn: client.Settings{HTTPEncoding: encoding}, Model: "mlp", BatchSize: batch,
		Clients: conc, Concurrency: 1, SharedConnection: true,
		Warmup: warm, Duration: dur, Window: dur, NoTelemetry: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	c0, s0 := selfCPU(), srv.cpu()
	m, err := measure.Run(context.Background(), opts)
	c1, s1 := selfCPU(), srv.cpu()
	if err != nil {
		return result{err: err}
	}
	// CPU covers warm-up and setup too: per request over every request
	// sent, at the measured rate.
	n := m.ThroughputRPS * (warm + dur).Seconds()
	return result{rps: m.ThroughputRPS, p50us: m.Latency.P50US,
		clientCPU: float64((c1 - c0).Microseconds()) / n, serverCPU: float64((s1 - s0).Microseconds()) / n}
}

// loop runs the minimal closed loop, with the client's and the server's
// CPU per request.
func loop(srv *serveProc, conc int, warm, dur time.Duration, body func(g int) (time.Duration, error)) result {
	c0, s0 := selfCPU(), srv.cpu()
	o, err := closedloop.Run(conc, warm, dur, body)
	c1, s1 := selfCPU(), srv.cpu()
	if err != nil {
		return result{err: err}
	}
	n := float64(o.Total)
	return result{rps: o.RPS, p50us: float64(o.P50) / 1e3,
		clientCPU: float64((c1 - c0).Microseconds()) / n, serverCPU: float64((s1 - s0).Microseconds()) / n}
}

// minimalHTTP is the practical limit of a Go client: conc goroutines
// posting the same body through one keep-alive pool, reading each
// response to its end, nothing else. headerLen ≥ 0 marks the binary
// extension (Inference-Header-Content-Length).
func minimalHTTP(srv *serveProc, url string, body []byte, headerLen, conc int, warm, dur time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	ct, hl := "application/json", ""
	if headerLen >= 0 {
		ct, hl = "application/octet-stream", strconv.Itoa(headerLen)
	}
	return loop(srv, conc, warm, dur, func(int) (time.Duration, error) {
		t0 := time.Now()
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", ct)
		if hl != "" {
			req.Header.Set("Inference-Header-Content-Length", hl)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("HTTP %s", resp.Status)
		}
		return time.Since(t0), err
	})
}

// minimalGRPC: conc goroutines calling the generated stub on one
// connection.
func minimalGRPC(srv *serveProc, req *pb.ModelInferRequest, conc int, warm, dur time.Duration) result {
	conn, err := grpc.NewClient(srv.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return result{err: err}
	}
	defer conn.Close()
	stub := pb.NewGRPCInferenceServiceClient(conn)
	ctx := context.Background()
	return loop(srv, conc, warm, dur, func(int) (time.Duration, error) {
		t0 := time.Now()
		_, err := stub.ModelInfer(ctx, req)
		return time.Since(t0), err
	})
}

// median takes each figure's median over the rounds; any error wins.
func median(rs []result) result {
	var rps, p50, cc, sc []float64
	for _, r := range rs {
		if r.err != nil {
			return r
		}
		rps, p50, cc, sc = append(rps, r.rps), append(p50, r.p50us), append(cc, r.clientCPU), append(sc, r.serverCPU)
	}
	return result{rps: mid(rps), p50us: mid(p50), clientCPU: mid(cc), serverCPU: mid(sc)}
}

func mid(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
