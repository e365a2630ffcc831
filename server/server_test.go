package server_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
	"github.com/iaasbench/iaasbench/modelrepo"
	"github.com/iaasbench/iaasbench/server"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs a server on free loopback ports and a client connected to it.
func start(t testing.TB, opts server.Options) (*server.Server, *client.Client) {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	if opts.MetricsAddr == "" {
		opts.MetricsAddr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Stop()
	})
	return srv, c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ramp(n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = scale * float32(math.Sin(float64(i)*0.37))
	}
	return v
}

// naiveDense is an independent float64 computation of the same layers.
func naiveDense(d *backend.Dense, x []float32, rows int) []float64 {
	var out []float64
	for r := 0; r < rows; r++ {
		cur := make([]float64, d.Layers[0].In)
		for i := range cur {
			cur[i] = float64(x[r*d.Layers[0].In+i])
		}
		for _, l := range d.Layers {
			next := make([]float64, l.Out)
			for o := 0; o < l.Out; o++ {
				s := float64(l.B[o])
				for i := 0; i < l.In; i++ {
					s += float64(l.W[o*l.In+i]) * cur[i]
				}
				switch l.Activation {
				case "relu":
					s = math.Max(s, 0)
				case "sigmoid":
					s = 1 / (1 + math.Exp(-s))
				}
				next[o] = s
			}
			cur = next
		}
		out = append(out, cur...)
	}
	return out
}

func assertClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func infer(t *testing.T, c *client.Client, req *pb.ModelInferRequest, output string) client.Tensor {
	t.Helper()
	resp, err := c.Infer(ctxT(t), req)
	if err != nil {
		t.Fatalf("infer %s: %v", req.ModelName, err)
	}
	out, err := client.Output(resp, output)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHealthAndMetadata(t *testing.T) {
	_, c := start(t, server.Options{Version: "test"})
	ctx := ctxT(t)
	if live, err := c.Live(ctx); err != nil || !live {
		t.Fatalf("live = %v, %v", live, err)
	}
	if ready, err := c.Ready(ctx); err != nil || !ready {
		t.Fatalf("ready = %v, %v", ready, err)
	}
	md, err := c.ServerMetadata(ctx)
	if err != nil || md.Name != "iaasbench" || md.Version != "test" {
		t.Fatalf("server metadata = %v, %v", md, err)
	}
	for _, m := range []string{"mlp", "noise-remover", "end-to-end", "calibrated", "snapshotter", "deepclean", "stream-e2e", "simple", "simple_string", "simple_identity"} {
		if ok, err := c.ModelReady(ctx, m, ""); err != nil || !ok {
			t.Errorf("model %s ready = %v, %v", m, ok, err)
		}
	}
	if ok, _ := c.ModelReady(ctx, "nope", ""); ok {
		t.Error("unknown model reported ready")
	}
	mm, err := c.ModelMetadata(ctx, "mlp", "")
	if err != nil {
		t.Fatal(err)
	}
	if mm.Inputs[0].Name != "x" || !equalShape(mm.Inputs[0].Shape, []int64{-1, 64}) || mm.Outputs[0].Name != "y" || mm.Inputs[0].Datatype != "FP32" {
		t.Fatalf("mlp metadata = %v", mm)
	}
	cfg, err := c.ModelConfig(ctx, "mlp", "1")
	if err != nil || cfg.MaxBatchSize != 65536 || cfg.Backend != backend.DenseName || cfg.InstanceGroup[0].Count != 2 {
		t.Fatalf("mlp config = %v, %v", cfg, err)
	}
	idx, err := c.Index(ctx)
	if err != nil || len(idx) != 10 {
		t.Fatalf("index = %v, %v", idx, err)
	}
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestModelsComputeTheirLayers(t *testing.T) {
	_, c := start(t, server.Options{})
	mlp := backend.NewDense([]int{64, 256, 128, 64, 1}, "relu", "sigmoid", 1)
	nr := backend.NewDense([]int{64, 32, 16, 64}, "relu", "none", 2)
	const rows = 8
	x := ramp(rows*64, 2)

	got := infer(t, c, client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{rows, 64}, Data: x}), "y")
	assertClose(t, "mlp y", got.Data, naiveDense(mlp, x, rows), 1e-4)
	if !equalShape(got.Shape, []int64{rows, 1}) {
		t.Fatalf("mlp output shape %v", got.Shape)
	}

	cleaned := naiveDense(nr, x, rows)
	got = infer(t, c, client.NewRequest("noise-remover", client.Tensor{Name: "noisy", Shape: []int64{rows, 64}, Data: x}), "cleaned")
	assertClose(t, "noise-remover cleaned", got.Data, cleaned, 1e-4)

	c32 := make([]float32, len(cleaned))
	for i, v := range cleaned {
		c32[i] = float32(v)
	}
	got = infer(t, c, client.NewRequest("end-to-end", client.Tensor{Name: "noisy", Shape: []int64{rows, 64}, Data: x}), "y")
	assertClose(t, "end-to-end y", got.Data, naiveDense(mlp, c32, rows), 1e-4)

	in := ramp(3*16, 1)
	got = infer(t, c, client.NewRequest("calibrated", client.Tensor{Name: "input", Shape: []int64{3, 16}, Data: in}), "output")
	want := make([]float64, len(in))
	for i, v := range in {
		want[i] = float64(v)
	}
	assertClose(t, "calibrated identity", got.Data, want, 0)

	// fp32_contents instead of raw bytes is accepted too.
	req := &pb.ModelInferRequest{ModelName: "calibrated", Inputs: []*pb.ModelInferRequest_InferInputTensor{{
		Name: "input", Datatype: "FP32", Shape: []int64{3, 16}, Contents: &pb.InferTensorContents{Fp32Contents: in}}}}
	got = infer(t, c, req, "output")
	assertClose(t, "calibrated via fp32_contents", got.Data, want, 0)
}

func TestStatisticsAndMetrics(t *testing.T) {
	srv, c := start(t, server.Options{})
	ctx := ctxT(t)
	req := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{4, 64}, Data: ramp(256, 1)})
	for i := 0; i < 5; i++ {
		if _, err := c.Infer(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	bad := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{4, 63}, Data: ramp(4*63, 1)})
	if _, err := c.Infer(ctx, bad); err == nil {
		t.Fatal("bad shape accepted")
	}
	st, err := c.Statistics(ctx, "mlp", "")
	if err != nil {
		t.Fatal(err)
	}
	s := st[0]
	if s.InferenceCount != 20 || s.ExecutionCount != 5 || s.InferenceStats.Success.Count != 5 || s.InferenceStats.Fail.Count != 1 {
		t.Fatalf("stats: inference %d execution %d success %d fail %d", s.InferenceCount, s.ExecutionCount, s.InferenceStats.Success.Count, s.InferenceStats.Fail.Count)
	}
	if s.InferenceStats.ComputeInfer.Ns == 0 || len(s.BatchStats) != 1 || s.BatchStats[0].BatchSize != 4 || s.BatchStats[0].ComputeInfer.Count != 5 {
		t.Fatalf("compute/batch stats: %v", s)
	}
	all, err := c.Statistics(ctx, "", "")
	if err != nil || len(all) != 10 {
		t.Fatalf("all stats: %d, %v", len(all), err)
	}
	resp, err := http.Get(srv.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`nv_inference_request_success{model="mlp",version="1"} 5`,
		`nv_inference_request_failure{model="mlp",version="1"} 1`,
		`nv_inference_count{model="mlp",version="1"} 20`,
		`nv_inference_exec_count{model="mlp",version="1"} 5`,
		`nv_inference_request_duration_us{model="mlp",version="1"}`,
		`nv_inference_queue_duration_us{model="mlp",version="1"}`,
		`nv_inference_compute_input_duration_us{model="mlp",version="1"}`,
		`nv_inference_compute_infer_duration_us{model="mlp",version="1"}`,
		`nv_inference_compute_output_duration_us{model="mlp",version="1"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	_, c := start(t, server.Options{})
	ctx := ctxT(t)
	cases := []struct {
		name string
		req  *pb.ModelInferRequest
		code codes.Code
		msg  []string
	}{
		{"unknown model", client.NewRequest("nope", client.Tensor{Name: "x", Shape: []int64{1, 64}, Data: ramp(64, 1)}), codes.NotFound, []string{`"nope"`}},
		{"unknown version", func() *pb.ModelInferRequest {
			r := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{1, 64}, Data: ramp(64, 1)})
			r.ModelVersion = "7"
			return r
		}(), codes.NotFound, []string{`version "7"`}},
		{"wrong input name", client.NewRequest("mlp", client.Tensor{Name: "z", Shape: []int64{1, 64}, Data: ramp(64, 1)}), codes.InvalidArgument, []string{`no input "z"`, "x [-1 64]"}},
		{"wrong shape", client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{1, 32}, Data: ramp(32, 1)}), codes.InvalidArgument, []string{`input "x"`, "[1 32]", "expected [-1 64]"}},
		{"wrong dtype", func() *pb.ModelInferRequest {
			r := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{1, 64}, Data: ramp(64, 1)})
			r.Inputs[0].Datatype = "INT32"
			return r
		}(), codes.InvalidArgument, []string{`input "x"`, "INT32", "expected FP32"}},
		{"short data", func() *pb.ModelInferRequest {
			r := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{1, 64}, Data: ramp(64, 1)})
			r.RawInputContents[0] = r.RawInputContents[0][:100]
			return r
		}(), codes.InvalidArgument, []string{`input "x"`, "256 bytes"}},
		{"batch too large", client.NewRequest("calibrated", client.Tensor{Name: "input", Shape: []int64{257, 16}, Data: ramp(257*16, 1)}), codes.InvalidArgument, []string{"batch size 257", "max_batch_size"}},
	}
	for _, tc := range cases {
		_, err := c.Infer(ctx, tc.req)
		if status.Code(err) != tc.code {
			t.Errorf("%s: code %v (%v), want %v", tc.name, status.Code(err), err, tc.code)
			continue
		}
		for _, m := range tc.msg {
			if !strings.Contains(status.Convert(err).Message(), m) {
				t.Errorf("%s: message %q lacks %q", tc.name, status.Convert(err).Message(), m)
			}
		}
	}
}

func TestMalformedConfigNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "broken", "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := "name: \"broken\"\nbackend: \"iaasbench_calibrated\"\nmax_batch_size: oops\n"
	if err := os.WriteFile(filepath.Join(dir, "broken", "config.pbtxt"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err := modelrepo.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.New(server.Options{Repository: &repo, Logger: quietLogger()})
	if err == nil {
		t.Fatal("malformed config loaded")
	}
	for _, want := range []string{filepath.Join("broken", "config.pbtxt"), "3:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestLoadOverrideAndUnload(t *testing.T) {
	_, c := start(t, server.Options{})
	ctx := ctxT(t)
	cfg, err := c.ModelConfig(ctx, "calibrated", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg = proto.Clone(cfg).(*pb.ModelConfig)
	cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: 3, Kind: pb.ModelInstanceGroup_KIND_CPU}}
	cfg.Parameters["base_us"] = &pb.ModelParameter{StringValue: "100"}
	if err := c.Load(ctx, "calibrated", cfg); err != nil {
		t.Fatal(err)
	}
	got, err := c.ModelConfig(ctx, "calibrated", "")
	if err != nil || got.InstanceGroup[0].Count != 3 || got.Parameters["base_us"].StringValue != "100" {
		t.Fatalf("after override: %v, %v", got, err)
	}
	bad := proto.Clone(cfg).(*pb.ModelConfig)
	bad.Backend = "pytorch"
	if err := c.Load(ctx, "calibrated", bad); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "pytorch") {
		t.Fatalf("loading an unrunnable backend: %v", err)
	}
	// The failed load left the previous configuration serving.
	if got, _ := c.ModelConfig(ctx, "calibrated", ""); got.InstanceGroup[0].Count != 3 {
		t.Fatal("failed load replaced the running model")
	}
	if err := c.Unload(ctx, "calibrated"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.ModelReady(ctx, "calibrated", ""); ok {
		t.Fatal("unloaded model still ready")
	}
	_, err = c.Infer(ctx, client.NewRequest("calibrated", client.Tensor{Name: "input", Shape: []int64{1, 16}, Data: ramp(16, 1)}))
	if status.Code(err) != codes.NotFound {
		t.Fatalf("infer on unloaded model: %v", err)
	}
	if err := c.Load(ctx, "calibrated", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.ModelConfig(ctx, "calibrated", ""); got.InstanceGroup[0].Count != 1 {
		t.Fatal("reload without override did not restore config.pbtxt")
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	srv, c := start(t, server.Options{})
	ctx := ctxT(t)
	cfg, _ := c.ModelConfig(ctx, "calibrated", "")
	cfg = proto.Clone(cfg).(*pb.ModelConfig)
	cfg.Parameters["base_us"] = &pb.ModelParameter{StringValue: "300000"}
	if err := c.Load(ctx, "calibrated", cfg); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Infer(ctx, client.NewRequest("calibrated", client.Tensor{Name: "input", Shape: []int64{1, 16}, Data: ramp(16, 1)}))
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("request in flight during shutdown failed: %v", err)
	}
}
