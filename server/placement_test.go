package server

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
)

func groupsOf(t *testing.T, c *client.Client, model string) []*pb.ModelInstanceGroup {
	t.Helper()
	cfg, err := c.ModelConfig(testCtx(t), model, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg.GetInstanceGroup()
}

// The built-in models are KIND_AUTO: on every emulated GPU when the server
// has some, on the CPU when it has none, as Triton resolves it.
func TestBuiltinsRunOnEmulatedGPUsWhenThereAreSome(t *testing.T) {
	_, cpu := startInternal(t, Options{})
	if g := groupsOf(t, cpu, "mlp"); len(g) != 1 || g[0].GetKind() != pb.ModelInstanceGroup_KIND_CPU || len(g[0].GetGpus()) != 0 {
		t.Fatalf("no GPUs: mlp placed as %v, want KIND_CPU", g)
	}
	srv, c := startInternal(t, Options{EmulatedGPUs: 2})
	for _, model := range []string{"mlp", "noise-remover", "deepclean", "snapshotter"} {
		g := groupsOf(t, c, model)
		if len(g) != 1 || g[0].GetKind() != pb.ModelInstanceGroup_KIND_GPU || len(g[0].GetGpus()) != 2 {
			t.Fatalf("2 GPUs: %s placed as %v, want KIND_GPU on GPUs 0 and 1", model, g)
		}
	}
	mv, err := srv.lookup("mlp", "")
	if err != nil {
		t.Fatal(err)
	}
	onDevice := map[int]int{}
	for _, in := range mv.rt.instances {
		if in.device == nil {
			t.Fatal("an mlp instance is on the CPU")
		}
		onDevice[in.device.index]++
	}
	if onDevice[0] != 2 || onDevice[1] != 2 {
		t.Fatalf("mlp instances per GPU %v, want count 2 on each of 2", onDevice)
	}
	// The calibrated model keeps its explicit KIND_CPU.
	if g := groupsOf(t, c, "calibrated"); g[0].GetKind() != pb.ModelInstanceGroup_KIND_CPU {
		t.Fatalf("calibrated placed as %v, want its KIND_CPU", g)
	}
}

func TestPlacementFollowsTriton(t *testing.T) {
	_, c := startInternal(t, Options{EmulatedGPUs: 2})
	ctx := testCtx(t)
	base, err := c.ModelConfig(ctx, "mlp", "")
	if err != nil {
		t.Fatal(err)
	}
	load := func(groups ...*pb.ModelInstanceGroup) ([]*pb.ModelInstanceGroup, error) {
		cfg := proto.Clone(base).(*pb.ModelConfig)
		cfg.InstanceGroup = groups
		if err := c.Load(ctx, "mlp", cfg); err != nil {
			return nil, err
		}
		return groupsOf(t, c, "mlp"), nil
	}
	// KIND_AUTO listing a GPU that does not exist: the CPU.
	g, err := load(&pb.ModelInstanceGroup{Count: 1, Kind: pb.ModelInstanceGroup_KIND_AUTO, Gpus: []int32{5}})
	if err != nil || g[0].GetKind() != pb.ModelInstanceGroup_KIND_CPU {
		t.Fatalf("KIND_AUTO on GPU 5 of 2: %v, %v; want KIND_CPU", g, err)
	}
	// KIND_GPU without a list: every GPU.
	g, err = load(&pb.ModelInstanceGroup{Count: 1, Kind: pb.ModelInstanceGroup_KIND_GPU})
	if err != nil || len(g[0].GetGpus()) != 2 {
		t.Fatalf("KIND_GPU without gpus: %v, %v; want GPUs 0 and 1", g, err)
	}
	// No instance group: Triton's default, one instance on each GPU.
	g, err = load()
	if err != nil || len(g) != 1 || g[0].GetKind() != pb.ModelInstanceGroup_KIND_GPU || g[0].GetCount() != 1 || len(g[0].GetGpus()) != 2 {
		t.Fatalf("no instance group: %v, %v", g, err)
	}
	// KIND_GPU on a server without GPUs is an error naming the cure.
	_, cpu := startInternal(t, Options{})
	cfg := proto.Clone(base).(*pb.ModelConfig)
	cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: 1, Kind: pb.ModelInstanceGroup_KIND_GPU}}
	if err := cpu.Load(ctx, "mlp", cfg); err == nil || !regexp.MustCompile(`KIND_GPU.*--emulated-gpus`).MatchString(err.Error()) {
		t.Fatalf("KIND_GPU without GPUs: %v", err)
	}
}

// After requests to a built-in model, the emulated GPUs' metrics have
// moved: busy time and executions.
func TestGPUMetricsMoveAfterRequests(t *testing.T) {
	srv, c := startInternal(t, Options{EmulatedGPUs: 2, MetricsAddr: "127.0.0.1:0"})
	for i := 0; i < 20; i++ {
		if _, err := c.Infer(testCtx(t), mlpRequest(8)); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(srv.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := func(metric string) float64 {
		total := 0.0
		for _, m := range regexp.MustCompile(`(?m)^`+metric+`(\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(string(body), -1) {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatal(err)
			}
			total += v
		}
		return total
	}
	if n := sum("nv_gpu_executions_total"); n < 20 {
		t.Errorf("nv_gpu_executions_total sums to %g after 20 requests", n)
	}
	if b := sum("nv_gpu_busy_seconds_total"); b <= 0 {
		t.Errorf("nv_gpu_busy_seconds_total sums to %g after 20 requests", b)
	}
	if l := sum("iaasbench_inflight_limit_bytes"); l != float64(DefaultMaxInflightBytes()) {
		t.Errorf("iaasbench_inflight_limit_bytes %g, want the default %d", l, DefaultMaxInflightBytes())
	}
}
