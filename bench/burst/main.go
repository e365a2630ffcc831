// Command burst measures the embedded server's memory under a burst of
// large requests: `iaasbench serve` runs as its own process, N clients
// send one ModelInfer of the given size each, all at once, and the
// server's resident size is read from /proc before (idle), at its peak
// (VmHWM) and after the burst. A second server process that gets no burst
// runs beside it, so that the idle figure has a reference from the same
// run. Every request must be answered OK or RESOURCE_EXHAUSTED.
//
// It needs several GB: the clients' tensor is shared (one copy in this
// process), but the server under test holds what its budget admits.
//
//	go run ./bench/burst                          # 16 × 250 MB, default budget
//	go run ./bench/burst -n 16 -size 250MB -max-inflight-bytes 1GiB
//
// The model is a stand-in for DeepClean that takes any length of data (the
// channel mix of the built-in deepclean with dims [21, -1]), written to a
// temporary repository: no built-in model takes a 250 MB request.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/server"
)

const channels = 21

const modelConfig = `name: "deepclean-any"
backend: "iaasbench_channel_mix"
max_batch_size: 0
input [ { name: "snapshot" data_type: TYPE_FP32 dims: [ 21, -1 ] } ]
output [ { name: "noise" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
parameters { key: "channels" value: { string_value: "21" } }
`

func main() {
	n := flag.Int("n", 16, "concurrent requests in the burst (one connection each)")
	size := flag.String("size", "250MB", "tensor bytes per request")
	budget := flag.String("max-inflight-bytes", "auto", `the server's --max-inflight-bytes ("": leave the flag out, for servers without it)`)
	bin := flag.String("bin", "", "iaasbench binary (default: built from ./cmd/iaasbench into a temporary directory)")
	settle := flag.Duration("settle", 3*time.Second, "wait after the last answer before reading the after-burst size")
	flag.Parse()
	if err := run(*n, *size, *budget, *bin, *settle); err != nil {
		fmt.Fprintln(os.Stderr, "burst:", err)
		os.Exit(1)
	}
}

// proc is a server process under observation.
type proc struct {
	cmd  *exec.Cmd
	addr string
}

func (p *proc) status(field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == field {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return -1
}

func run(n int, sizeFlag, budget, bin string, settle time.Duration) error {
	size, err := server.ParseBytes(sizeFlag)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "iaasbench-burst-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "iaasbench")
		build := exec.Command("go", "build", "-o", bin, "./cmd/iaasbench")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build iaasbench: %w", err)
		}
	}
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(filepath.Join(repo, "deepclean-any", "1"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(repo, "deepclean-any", "config.pbtxt"), []byte(modelConfig), 0o644); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	under, err := startServer(ctx, bin, repo, budget)
	if err != nil {
		return err
	}
	defer stopServer(under)
	idleRef, err := startServer(ctx, bin, repo, budget)
	if err != nil {
		return err
	}
	defer stopServer(idleRef)

	// One small request to each so that both have served (code paths
	// touched, pools made) before the idle size is read.
	for _, p := range []*proc{under, idleRef} {
		if err := warm(ctx, p.addr); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	idle, refIdle := under.status("VmRSS"), idleRef.status("VmRSS")

	samples := int(size / 4 / channels)
	body := sharedTensor(samples)
	fmt.Printf("burst: %d concurrent ModelInfer of %s each (%s in all) to iaasbench serve --max-inflight-bytes %s\n",
		n, server.FormatBytes(int64(len(body.raw))), server.FormatBytes(int64(n*len(body.raw))), budget)

	var peakSampled int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if r := under.status("VmRSS"); r > peakSampled {
				peakSampled = r
			}
			select {
			case <-t.C:
			case <-stopSampling:
				return
			}
		}
	}()

	start := time.Now()
	codesSeen := map[codes.Code]int{}
	var other []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := send(ctx, under.addr, body)
			mu.Lock()
			defer mu.Unlock()
			code := status.Code(err)
			codesSeen[code]++
			if code != codes.OK && code != codes.ResourceExhausted {
				other = append(other, err.Error())
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	time.Sleep(settle)
	close(stopSampling)
	<-sampled
	after := under.status("VmRSS")
	hwm := under.status("VmHWM")
	refAfter, refHWM := idleRef.status("VmRSS"), idleRef.status("VmHWM")

	mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "server\tidle RSS\tpeak RSS (VmHWM)\tpeak sampled\tafter RSS\tafter/idle\tOK\tRESOURCE_EXHAUSTED\tother\tburst took")
	fmt.Fprintf(tw, "under burst\t%s\t%s\t%s\t%s\t%.2f\t%d\t%d\t%d\t%.1fs\n", mib(idle), mib(hwm), mib(peakSampled), mib(after),
		float64(after)/float64(idle), codesSeen[codes.OK], codesSeen[codes.ResourceExhausted], len(other), took.Seconds())
	fmt.Fprintf(tw, "no work (reference)\t%s\t%s\t-\t%s\t%.2f\t-\t-\t-\t-\n", mib(refIdle), mib(refHWM), mib(refAfter), float64(refAfter)/float64(refIdle))
	tw.Flush()
	fmt.Printf("targets: peak <= 2 GB: %v; after <= 2x idle: %v; all answered OK or RESOURCE_EXHAUSTED: %v\n",
		hwm <= 2e9, after <= 2*idle, len(other) == 0)
	if len(other) > 0 {
		return fmt.Errorf("%d requests failed otherwise, e.g. %s", len(other), other[0])
	}
	return nil
}

func startServer(ctx context.Context, bin, repo, budget string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"serve", "--addr", addr, "--metrics-addr", "off", "--http-addr", "off", "--repo", repo}
	if budget != "" {
		args = append(args, "--max-inflight-bytes", budget)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, addr: addr}
	c, err := client.Dial(addr)
	if err != nil {
		stopServer(p)
		return nil, err
	}
	defer c.Close()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		live, err := c.Live(cctx)
		cancel()
		if err == nil && live {
			return p, nil
		}
		if time.Now().After(deadline) {
			stopServer(p)
			return nil, fmt.Errorf("server at %s not live after a minute: %v", addr, err)
		}
	}
}

func stopServer(p *proc) {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func warm(ctx context.Context, addr string) error {
	c, err := client.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	req := client.NewRequest("deepclean-any", client.Tensor{Name: "snapshot", Shape: []int64{channels, 16}, Data: make([]float32, channels*16)})
	_, err = c.Infer(ctx, req)
	return err
}

// tensor is a request encoded once: its raw_input_contents field (tag,
// length and data) is shared by every request sent, which differ only in
// their small head. Protobuf decoding merges concatenated encodings, so
// head + raw is one valid ModelInferRequest.
type tensor struct {
	head []byte // model, input description
	raw  []byte // field 7 with the tensor's bytes
}

func sharedTensor(samples int) tensor {
	req := &pb.ModelInferRequest{ModelName: "deepclean-any", Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "snapshot", Datatype: "FP32", Shape: []int64{channels, int64(samples)}}}}
	head, err := proto.Marshal(req)
	if err != nil {
		panic(err) // a fixed, valid message
	}
	data := make([]byte, 4*channels*samples)
	for i := 0; i < len(data); i += 4 {
		binary.LittleEndian.PutUint32(data[i:], math.Float32bits(float32(i%977)*1e-3))
	}
	raw := protowire.AppendTag(nil, 7, protowire.BytesType)
	raw = protowire.AppendVarint(raw, uint64(len(data)))
	raw = append(raw, data...)
	return tensor{head: head, raw: raw}
}

// preEncoded goes out as its bytes, without a copy per request.
type preEncoded struct{ t tensor }

// rawCodec sends preEncoded messages as they are and decodes responses
// as protobuf; it keeps the name "proto" so that the server sees an
// ordinary request.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	p, ok := v.(*preEncoded)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot send %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(p.t.head), mem.SliceBuffer(p.t.raw)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("rawCodec: cannot decode into %T", v)
	}
	return proto.Unmarshal(data.Materialize(), m)
}

func (rawCodec) Name() string { return "proto" }

var _ encoding.CodecV2 = rawCodec{}

func send(ctx context.Context, addr string, t tensor) error {
	c, err := client.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	resp := &pb.ModelInferResponse{}
	err = c.Conn().Invoke(ctx, pb.GRPCInferenceService_ModelInfer_FullMethodName, &preEncoded{t}, resp, grpc.ForceCodecV2(rawCodec{}))
	if err == nil && len(resp.GetRawOutputContents()) != 1 {
		return errors.New("response without its output")
	}
	return err
}
