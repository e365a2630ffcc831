package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

func TestInstanceLimits(t *testing.T) {
	srv, c := startInternal(t, Options{EmulatedGPUs: 4})
	ctx := testCtx(t)
	base, err := c.ModelConfig(ctx, "mlp", "")
	if err != nil {
		t.Fatal(err)
	}
	before := srv.totalInstances()
	try := func(count int32, kind pb.ModelInstanceGroup_Kind) error {
		cfg := proto.Clone(base).(*pb.ModelConfig)
		cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: count, Kind: kind}}
		return c.Load(ctx, "mlp", cfg)
	}
	err = try(1_000_000, pb.ModelInstanceGroup_KIND_CPU)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "1024 per group") {
		t.Fatalf("count 1000000: %v", err)
	}
	// 1024 on each of 4 GPUs is 4096 instances: with the other models'
	// instances, past the server's limit. Refused before any is made.
	err = try(1024, pb.ModelInstanceGroup_KIND_GPU)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "4096 instances") {
		t.Fatalf("4 × 1024 on GPUs: %v", err)
	}
	if got := srv.totalInstances(); got != before {
		t.Fatalf("instances %d after refused loads, want %d as before", got, before)
	}
	// The model still serves its old configuration.
	if _, err := c.Infer(ctx, mlpRequest(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{EmulatedGPUs: MaxEmulatedGPUs + 1}); err == nil {
		t.Fatal("too many emulated GPUs accepted")
	}
}

func (s *Server) totalInstances() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, e := range s.models {
		for _, mv := range e.versions {
			n += len(mv.rt.instances)
		}
	}
	return n
}

func TestModelControlInputLimits(t *testing.T) {
	_, c := startInternal(t, Options{})
	ctx := testCtx(t)
	rpc := c.RPC()
	for _, tc := range []struct {
		req  *pb.RepositoryModelLoadRequest
		want string
	}{
		{&pb.RepositoryModelLoadRequest{ModelName: strings.Repeat("m", 300)}, "longer than 255"},
		{&pb.RepositoryModelLoadRequest{ModelName: ""}, "no model name"},
		{&pb.RepositoryModelLoadRequest{ModelName: "../etc"}, "not a directory name"},
		{&pb.RepositoryModelLoadRequest{ModelName: "mlp", Parameters: map[string]*pb.ModelRepositoryParameter{
			"config": {ParameterChoice: &pb.ModelRepositoryParameter_StringParam{StringParam: strings.Repeat(" ", 2<<20)}}}}, "config override of 2097152 bytes is larger than 1048576"},
		{&pb.RepositoryModelLoadRequest{ModelName: "mlp", Parameters: map[string]*pb.ModelRepositoryParameter{
			"file:1/model.onnx": {ParameterChoice: &pb.ModelRepositoryParameter_BytesParam{BytesParam: []byte("weights")}}}}, "file overrides"},
		{&pb.RepositoryModelLoadRequest{ModelName: "mlp", Parameters: map[string]*pb.ModelRepositoryParameter{
			"bogus": {}}}, "unsupported parameter"},
	} {
		_, err := rpc.RepositoryModelLoad(ctx, tc.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("load %.40q: %v; want InvalidArgument with %q", tc.req.GetModelName(), err, tc.want)
		}
	}
	_, err := rpc.RepositoryModelUnload(ctx, &pb.RepositoryModelUnloadRequest{ModelName: strings.Repeat("m", 300)})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("unload with a long name: %v", err)
	}
	// Messages other than inference are bounded by grpc-go's limit.
	_, err = rpc.RepositoryModelLoad(ctx, &pb.RepositoryModelLoadRequest{ModelName: "mlp", Parameters: map[string]*pb.ModelRepositoryParameter{
		"config": {ParameterChoice: &pb.ModelRepositoryParameter_BytesParam{BytesParam: make([]byte, 5<<20)}}}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a 5 MiB load request: %v; want RESOURCE_EXHAUSTED (max %d)", err, maxControlMessage)
	}
}
