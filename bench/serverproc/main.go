// Command serverproc measures `iaasbench serve` as its own process, beside
// a server on the same protos that does no work (bench/serverproc/nowork),
// in the same run. A minimal client on the generated stubs drives each over
// loopback: one connection, c requests in flight, the talk's job of 62,500
// requests of batch 8 of the mlp (500,000 inferences), over unary
// ModelInfer calls and over ModelStreamInfer (c streams on the connection,
// one request outstanding on each). Runs interleave (ABBA within each
// round) so that drift in a shared machine's load hits both servers alike;
// each round's ratio compares runs minutes apart at most.
//
// Run from the repository root (it builds the servers with go build):
//
//	go run ./bench/serverproc -rounds 3
//	go run ./bench/serverproc -baseline main     # main's serve too, same run
//	go run ./bench/serverproc -rounds 1 -pprof /tmp/prof   # CPU profiles of both
//
// Besides wall seconds it prints each server process's CPU time per
// request (from /proc), which depends less on what else the machine runs.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

type options struct {
	requests, conc, batch, warmup, rounds int
	rpcs                                  []string
	bin, baseline, pprofDir               string
	pprofSeconds                          int
	verbose                               bool
}

func main() {
	var o options
	flag.IntVar(&o.requests, "requests", 62500, "requests per timed job (62,500 × batch 8 = the talk's 500,000 inferences)")
	flag.IntVar(&o.conc, "c", 8, "requests in flight on the one connection")
	flag.IntVar(&o.batch, "batch", 8, "rows per request")
	flag.IntVar(&o.warmup, "warmup", 1000, "untimed requests before each timed job")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; each server runs each RPC once per round")
	rpc := flag.String("rpc", "unary,stream", "RPCs to measure: unary, stream or both")
	flag.StringVar(&o.bin, "bin", "", "iaasbench binary to serve (default: build ./cmd/iaasbench)")
	flag.StringVar(&o.baseline, "baseline", "", "also serve ./cmd/iaasbench as of this git revision (e.g. main), measured in the same run")
	flag.StringVar(&o.pprofDir, "pprof", "", "directory for CPU profiles of iaasbench serve and the no-work server, one per RPC and round (taken over -pprof-seconds of each timed job)")
	flag.IntVar(&o.pprofSeconds, "pprof-seconds", 4, "length of each CPU profile; keep it under the job's duration")
	flag.BoolVar(&o.verbose, "v", false, "print every run")
	flag.Parse()
	for _, r := range strings.Split(*rpc, ",") {
		if r != "unary" && r != "stream" {
			fmt.Fprintf(os.Stderr, "serverproc: -rpc %q: want unary, stream or unary,stream\n", *rpc)
			os.Exit(2)
		}
		o.rpcs = append(o.rpcs, r)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "serverproc:", err)
		os.Exit(1)
	}
}

// server is one server process under test.
type server struct {
	name string
	cmd  *exec.Cmd
	addr string
	// pprof is serve's debug address when profiling, else "".
	pprof  string
	stderr bytes.Buffer
}

// start launches a server that prints "... gRPC on ADDR" and, with
// --pprof, "pprof on ADDR" on its first line of stdout.
func start(name string, args ...string) (*server, error) {
	s := &server{name: name, cmd: exec.Command(args[0], args[1:]...)}
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-line:
		m := regexp.MustCompile(`gRPC on (?:grpcs?://)?(\S+?),?(\s|$)`).FindStringSubmatch(l)
		if !ok || m == nil {
			s.stop()
			return nil, fmt.Errorf("%s did not say where it listens (first line %q): %s", name, l, strings.TrimSpace(s.stderr.String()))
		}
		s.addr = m[1]
		if p := regexp.MustCompile(`pprof on http://(\S+?)/`).FindStringSubmatch(l); p != nil {
			s.pprof = p[1]
		}
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s did not start within 30 s: %s", name, strings.TrimSpace(s.stderr.String()))
	}
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// cpu is the server process's user+system CPU time so far (Linux /proc;
// 0 elsewhere).
func (s *server) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name: state is field 3,
	// utime 14 and stime 15, in clock ticks (100 per second on Linux).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// measurement is one timed job.
type measurement struct {
	wall, serverCPU, clientCPU time.Duration
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "serverproc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(dir, "iaasbench")
		if err := build(".", bin, "./cmd/iaasbench"); err != nil {
			return err
		}
	}
	nowork := filepath.Join(dir, "nowork")
	if err := build(".", nowork, "./bench/serverproc/nowork"); err != nil {
		return err
	}
	serveArgs := append([]string{bin}, serveFlags(bin)...)
	if o.pprofDir != "" {
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return err
		}
		serveArgs = append(serveArgs, "--pprof", "127.0.0.1:0")
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	serve, err := start("iaasbench serve", serveArgs...)
	if err != nil {
		return err
	}
	servers = append(servers, serve)
	if o.baseline != "" {
		old, err := buildRef(dir, o.baseline)
		if err != nil {
			return err
		}
		s, err := start("serve@"+o.baseline, append([]string{old}, serveFlags(old)...)...)
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	noworkArgs := []string{nowork, "-addr", "127.0.0.1:0", "-batch", strconv.Itoa(o.batch)}
	if o.pprofDir != "" {
		noworkArgs = append(noworkArgs, "-pprof", "127.0.0.1:0")
	}
	floor, err := start("no-work server", noworkArgs...)
	if err != nil {
		return err
	}
	servers = append(servers, floor) // the ceiling is last

	x := make([]byte, 4*o.batch*64)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(x); i += 4 {
		binary.LittleEndian.PutUint32(x[i:], math.Float32bits(rng.Float32()*2-1))
	}
	req := &pb.ModelInferRequest{
		ModelName:        "mlp",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{int64(o.batch), 64}}},
		Outputs:          []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "y"}},
		RawInputContents: [][]byte{x},
	}
	fmt.Printf("%d requests of batch %d (mlp) per job, %d in flight on 1 connection, %d untimed first, %d round(s)\n",
		o.requests, o.batch, o.conc, o.warmup, o.rounds)

	runs := map[string][][]measurement{} // rpc → server index → rounds
	for _, rpc := range o.rpcs {
		runs[rpc] = make([][]measurement, len(servers))
	}
	step := 0
	for r := 0; r < o.rounds; r++ {
		for _, rpc := range o.rpcs {
			// Each server goes first in turn, and the order alternates
			// direction, so that none always runs on the same side of
			// another.
			order := make([]int, len(servers))
			for i := range order {
				order[i] = (i + step) % len(servers)
			}
			if step%2 == 1 {
				slices.Reverse(order)
			}
			step++
			for _, i := range order {
				s := servers[i]
				var prof func() func() error
				if s.pprof != "" {
					name := "serve"
					if s == floor {
						name = "nowork"
					}
					prof = profile(s.pprof, o.pprofSeconds, filepath.Join(o.pprofDir, fmt.Sprintf("%s-%s-round%d.pprof", name, rpc, r+1)))
				}
				m, err := job(s, rpc, req, o, prof)
				if err != nil {
					return fmt.Errorf("%s, %s: %w (server stderr: %s)", s.name, rpc, err, lastLines(s.stderr.String(), 5))
				}
				if o.verbose {
					fmt.Printf("  round %d %-6s %-18s %6.2f s, server CPU %5.1f µs/request\n", r+1, rpc, s.name, m.wall.Seconds(),
						float64(m.serverCPU.Microseconds())/float64(o.requests))
				}
				runs[rpc][i] = append(runs[rpc][i], m)
			}
		}
	}
	fmt.Println()
	report(os.Stdout, o, servers, runs)
	return nil
}

// serveFlags serves on a free loopback port with the other endpoints off
// (gRPC is what is measured); --http-addr only where the binary has it
// (revisions before the HTTP front-end do not).
func serveFlags(bin string) []string {
	args := []string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "off"}
	help, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	if bytes.Contains(help, []byte("-http-addr")) {
		args = append(args, "--http-addr", "off")
	}
	return args
}

// buildRef builds ./cmd/iaasbench as of a git revision (exported with git
// archive into dir), to measure it beside this tree's.
func buildRef(dir, ref string) (string, error) {
	src := filepath.Join(dir, "src-"+strings.NewReplacer("/", "_", "~", "_", "^", "_").Replace(ref))
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	var archive bytes.Buffer
	cmd := exec.Command("git", "archive", "--format=tar", ref)
	cmd.Stdout, cmd.Stderr = &archive, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git archive %s: %w", ref, err)
	}
	untar := exec.Command("tar", "-x", "-C", src)
	untar.Stdin, untar.Stderr = &archive, os.Stderr
	if err := untar.Run(); err != nil {
		return "", fmt.Errorf("unpack %s: %w", ref, err)
	}
	bin := filepath.Join(dir, "iaasbench-baseline")
	if err := build(src, bin, "./cmd/iaasbench"); err != nil {
		return "", err
	}
	return bin, nil
}

func build(dir, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir, cmd.Stderr = dir, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (run from the repository root): %w", pkg, err)
	}
	return nil
}

// profile returns a function that starts fetching a CPU profile of
// seconds from a pprof endpoint and returns one that waits for it to be
// written to path.
func profile(addr string, seconds int, path string) func() func() error {
	return func() func() error { return fetchProfile(addr, seconds, path) }
}

func fetchProfile(addr string, seconds int, path string) func() error {
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("pprof: %s", resp.Status)
			return
		}
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		done <- errors.Join(err, f.Close())
	}()
	return func() error { return <-done }
}

// job drives one server through warm-up and a timed job of o.requests on
// a fresh connection. prof, when set, is started with the timed part and
// waited for after it.
func job(s *server, rpc string, req *pb.ModelInferRequest, o options, prof func() func() error) (measurement, error) {
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return measurement{}, err
	}
	defer conn.Close()
	stub := pb.NewGRPCInferenceServiceClient(conn)
	// No deadline, as a minimal client sends none (a deadline costs the
	// server a timer per call).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	call, closeAll, err := caller(ctx, stub, rpc, o.conc)
	if err != nil {
		return measurement{}, err
	}
	defer closeAll()
	want := 4 * o.batch
	check := func(resp *pb.ModelInferResponse) error {
		if raw := resp.GetRawOutputContents(); len(raw) != 1 || len(raw[0]) != want {
			return fmt.Errorf("response has %d raw outputs (first %d bytes), want 1 of %d bytes", len(raw), len(firstOf(raw)), want)
		}
		return nil
	}
	drive := func(n int) error {
		var next atomic.Int64
		errs := make([]error, o.conc)
		var wg sync.WaitGroup
		for g := 0; g < o.conc; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					resp, err := call(g, req)
					if err == nil {
						err = check(resp)
					}
					if err != nil {
						errs[g] = err
						return
					}
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	if err := drive(o.warmup); err != nil {
		return measurement{}, err
	}
	var wait func() error
	if prof != nil {
		wait = prof()
	}
	c0, cc0 := s.cpu(), clientCPU()
	t0 := time.Now()
	err = drive(o.requests)
	m := measurement{wall: time.Since(t0), serverCPU: s.cpu() - c0, clientCPU: clientCPU() - cc0}
	if err != nil {
		return m, err
	}
	if wait != nil {
		if err := wait(); err != nil {
			return m, fmt.Errorf("CPU profile: %w", err)
		}
	}
	return m, nil
}

// caller returns a function that sends one request from goroutine g and
// waits for its response: a unary call on the shared connection, or a
// Send and Recv on g's own stream.
func caller(ctx context.Context, stub pb.GRPCInferenceServiceClient, rpc string, conc int) (func(int, *pb.ModelInferRequest) (*pb.ModelInferResponse, error), func(), error) {
	if rpc == "unary" {
		return func(_ int, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
			return stub.ModelInfer(ctx, req)
		}, func() {}, nil
	}
	streams := make([]grpc.BidiStreamingClient[pb.ModelInferRequest, pb.ModelStreamInferResponse], conc)
	closeAll := func() {
		for _, st := range streams {
			if st != nil {
				_ = st.CloseSend()
			}
		}
	}
	for i := range streams {
		st, err := stub.ModelStreamInfer(ctx)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		streams[i] = st
	}
	return func(g int, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
		if err := streams[g].Send(req); err != nil {
			return nil, err
		}
		resp, err := streams[g].Recv()
		if err != nil {
			return nil, err
		}
		if resp.GetErrorMessage() != "" {
			return nil, errors.New(resp.GetErrorMessage())
		}
		return resp.GetInferResponse(), nil
	}, closeAll, nil
}

func firstOf(b [][]byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b[0]
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// report prints, per RPC, each server's median seconds (range over
// rounds) and CPU per request, and each iaasbench's ratio to the no-work
// server: the median of the per-round ratios, each from runs next to
// each other. The CPU ratio (client and server CPU per request, against
// the no-work run's) is the steadier figure on a shared machine: the
// wall ratio also moves with whatever else runs during either job.
func report(w io.Writer, o options, servers []*server, runs map[string][][]measurement) {
	targets := map[string]float64{"unary": 1.4, "stream": 1.75}
	floor := len(servers) - 1
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rpc\tserver\tseconds (median)\tmin–max\tserver CPU µs/req\tclient CPU µs/req\t÷ no-work: seconds (median, range of rounds)\tCPU\t")
	perReq := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(o.requests) }
	for _, rpc := range o.rpcs {
		for i, s := range servers {
			var wall, cpu, client, ratios, cpuRatios []float64
			for r, m := range runs[rpc][i] {
				f := runs[rpc][floor][r]
				wall = append(wall, m.wall.Seconds())
				cpu = append(cpu, perReq(m.serverCPU))
				client = append(client, perReq(m.clientCPU))
				ratios = append(ratios, m.wall.Seconds()/f.wall.Seconds())
				cpuRatios = append(cpuRatios, float64(m.serverCPU+m.clientCPU)/float64(f.serverCPU+f.clientCPU))
			}
			ratio, cpuRatio := "", ""
			if i != floor {
				ratio = fmt.Sprintf("%.2f× (%.2f–%.2f×; target ≤ %.2f×)", median(ratios), slices.Min(ratios), slices.Max(ratios), targets[rpc])
				cpuRatio = fmt.Sprintf("%.2f×", median(cpuRatios))
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f–%.2f\t%.1f\t%.1f\t%s\t%s\t\n", rpc, s.name, median(wall), slices.Min(wall), slices.Max(wall), median(cpu), median(client), ratio, cpuRatio)
		}
	}
	tw.Flush()
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
