package server_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/modelrepo"
	"github.com/iaasbench/iaasbench/server"
)

func identityRequest(shape []int64, raw []byte, contents [][]byte) *pb.ModelInferRequest {
	in := &pb.ModelInferRequest_InferInputTensor{Name: "INPUT0", Datatype: "BYTES", Shape: shape}
	req := &pb.ModelInferRequest{ModelName: "simple_identity", Inputs: []*pb.ModelInferRequest_InferInputTensor{in}}
	if contents != nil {
		in.Contents = &pb.InferTensorContents{BytesContents: contents}
	} else {
		req.RawInputContents = [][]byte{raw}
	}
	return req
}

// BYTES tensors carry Triton's 4-byte little-endian length prefix before
// each element in raw contents; bytes_contents holds one element per entry.
func TestGRPCBytes(t *testing.T) {
	_, c := start(t, server.Options{})
	ctx := ctxT(t)
	els := []string{"", "a", "\x00\xff binary", strings.Repeat("long ", 100)}
	raw := bytesLE(els...)
	resp, err := c.Infer(ctx, identityRequest([]int64{1, 4}, raw, nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Outputs[0].Datatype != "BYTES" || !equalShape(resp.Outputs[0].Shape, []int64{1, 4}) || !bytes.Equal(resp.RawOutputContents[0], raw) {
		t.Errorf("identity via raw: %v %q, want %q", resp.Outputs[0], resp.RawOutputContents[0], raw)
	}
	var typed [][]byte
	for _, e := range els {
		typed = append(typed, []byte(e))
	}
	resp, err = c.Infer(ctx, identityRequest([]int64{2, 2}, nil, typed))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.RawOutputContents[0], raw) || !equalShape(resp.Outputs[0].Shape, []int64{2, 2}) {
		t.Errorf("identity via bytes_contents: %q, want %q", resp.RawOutputContents[0], raw)
	}

	cases := []struct {
		name string
		req  *pb.ModelInferRequest
		msg  []string
	}{
		{"truncated length prefix", identityRequest([]int64{1, 2}, append(bytesLE("ab"), 3, 0), nil), []string{"element 1 is truncated", "2 bytes left", "length prefix"}},
		{"overlong element", identityRequest([]int64{1, 2}, append(bytesLE("ab"), 200, 0, 0, 0, 'x', 'y'), nil), []string{"element 1 declares 200 bytes but only 2 remain"}},
		{"missing element", identityRequest([]int64{1, 3}, bytesLE("ab", "cd"), nil), []string{"ends after 2 of the 3 elements"}},
		{"bytes left over", identityRequest([]int64{1, 2}, append(bytesLE("ab", "cd"), 'z'), nil), []string{"1 bytes left over after the 2 BYTES elements"}},
		{"bytes_contents count", identityRequest([]int64{1, 3}, nil, typed[:2]), []string{"needs 3 bytes_contents values, got 2"}},
	}
	for _, tc := range cases {
		_, err := c.Infer(ctx, tc.req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", tc.name, err)
			continue
		}
		for _, m := range append(tc.msg, `input "INPUT0"`) {
			if !strings.Contains(status.Convert(err).Message(), m) {
				t.Errorf("%s: %q lacks %q", tc.name, status.Convert(err).Message(), m)
			}
		}
	}
}

// Triton's simple and simple_string over gRPC: typed int_contents and
// bytes_contents, outputs checked against arithmetic done here.
func TestSimpleModelsOverGRPC(t *testing.T) {
	_, c := start(t, server.Options{})
	ctx := ctxT(t)
	a := seq(32, func(i int) int32 { return int32(i*i) - 40 })
	b := seq(32, func(i int) int32 { return int32(7 - i) })
	req := &pb.ModelInferRequest{ModelName: "simple", Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "INPUT0", Datatype: "INT32", Shape: []int64{2, 16}, Contents: &pb.InferTensorContents{IntContents: a}},
		{Name: "INPUT1", Datatype: "INT32", Shape: []int64{2, 16}, Contents: &pb.InferTensorContents{IntContents: b}},
	}}
	resp, err := c.Infer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	checkSimple(t, resp, a, b)

	var xs, ys [][]byte
	for i := range 16 {
		xs = append(xs, []byte(strconv.Itoa(int(a[i]))))
		ys = append(ys, []byte(strconv.Itoa(int(b[i]))))
	}
	sreq := &pb.ModelInferRequest{ModelName: "simple_string", Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "INPUT0", Datatype: "BYTES", Shape: []int64{1, 16}, Contents: &pb.InferTensorContents{BytesContents: xs}},
		{Name: "INPUT1", Datatype: "BYTES", Shape: []int64{1, 16}, Contents: &pb.InferTensorContents{BytesContents: ys}},
	}}
	resp, err = c.Infer(ctx, sreq)
	if err != nil {
		t.Fatal(err)
	}
	var sum, diff []string
	for i := range 16 {
		sum = append(sum, strconv.Itoa(int(a[i]+b[i])))
		diff = append(diff, strconv.Itoa(int(a[i]-b[i])))
	}
	if !bytes.Equal(resp.RawOutputContents[0], bytesLE(sum...)) || !bytes.Equal(resp.RawOutputContents[1], bytesLE(diff...)) {
		t.Errorf("simple_string: %q / %q, want %v / %v", resp.RawOutputContents[0], resp.RawOutputContents[1], sum, diff)
	}
}

// Triton's validation: raw_input_contents with typed contents is refused;
// a negative dimension gets a message that does not contradict itself.
func TestTritonValidation(t *testing.T) {
	_, c := start(t, server.Options{})
	ctx := ctxT(t)
	req := simpleRequest(make([]int32, 16), make([]int32, 16))
	req.Inputs[1].Contents = &pb.InferTensorContents{IntContents: make([]int32, 16)}
	_, err := c.Infer(ctx, req)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `input "INPUT1" has typed contents`) || !strings.Contains(err.Error(), "raw_input_contents") {
		t.Errorf("raw and typed contents together: %v", err)
	}

	neg := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{-1, 64}, Data: ramp(64, 1)})
	_, err = c.Infer(ctx, neg)
	msg := status.Convert(err).Message()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(msg, "negative dimension -1") || strings.Contains(msg, "expected [-1 64]") {
		t.Errorf("negative dimension: %q; want it named, without 'expected [-1 64]' (which the shape would seem to match)", msg)
	}

	// An input with neither raw nor typed data.
	empty := &pb.ModelInferRequest{ModelName: "simple_identity", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "INPUT0", Datatype: "BYTES", Shape: []int64{1, 1}}}}
	if _, err := c.Infer(ctx, empty); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "carries no data") {
		t.Errorf("input without data: %v", err)
	}
	// An INT32 value out of INT8 range in int_contents.
	dir := t.TempDir()
	writeModel(t, dir, "int8", `name: "int8" backend: "iaasbench_calibrated" parameters { key: "base_us" value: { string_value: "0" } }
max_batch_size: 0
input [ { name: "i" data_type: TYPE_INT8 dims: [ 2 ] } ]
output [ { name: "o" data_type: TYPE_INT8 dims: [ 2 ] } ]`)
	repo, err := modelrepo.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, c8 := start(t, server.Options{Repository: &repo})
	r8 := &pb.ModelInferRequest{ModelName: "int8", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "i", Datatype: "INT8", Shape: []int64{2}, Contents: &pb.InferTensorContents{IntContents: []int32{5, 300}}}}}
	if _, err := c8.Infer(ctx, r8); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "300 is out of range for INT8") {
		t.Errorf("int_contents out of INT8 range: %v", err)
	}
	r8.Inputs[0].Contents.IntContents = []int32{5, -128}
	resp, err := c8.Infer(ctx, r8)
	if err != nil || !bytes.Equal(resp.RawOutputContents[0], []byte{5, 0x80}) {
		t.Errorf("INT8 identity: %v %v", resp, err)
	}
}

func writeModel(t *testing.T, dir, name, cfg string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, name, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name, "config.pbtxt"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A user's repository with TYPE_STRING inputs loads (on a backend that
// moves bytes), and a backend that cannot compute on strings says so.
func TestRepositoryWithStringsLoads(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, dir, "tokenizer", `name: "tokenizer"
backend: "iaasbench_calibrated"
max_batch_size: 4
input [ { name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "ECHO" data_type: TYPE_STRING dims: [ 1 ] } ]
dynamic_batching { max_queue_delay_microseconds: 100 }
parameters { key: "base_us" value: { string_value: "50" } }`)
	repo, err := modelrepo.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, c := start(t, server.Options{Repository: &repo})
	req := &pb.ModelInferRequest{ModelName: "tokenizer", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "TEXT", Datatype: "BYTES", Shape: []int64{1, 1}}},
		RawInputContents: [][]byte{bytesLE("hello")}}
	resp, err := c.Infer(ctxT(t), req)
	if err != nil || !bytes.Equal(resp.RawOutputContents[0], bytesLE("hello")) {
		t.Fatalf("string model: %v %v", resp, err)
	}

	bad := t.TempDir()
	writeModel(t, bad, "dense-strings", `name: "dense-strings"
backend: "iaasbench_dense"
input [ { name: "x" data_type: TYPE_STRING dims: [ 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]
parameters { key: "layers" value: { string_value: "4,1" } }`)
	brepo, _ := modelrepo.Dir(bad)
	_, err = server.New(server.Options{Repository: &brepo, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), `input "x" has data_type TYPE_STRING`) || !strings.Contains(err.Error(), "iaasbench_dense") {
		t.Errorf("dense on strings: %v", err)
	}
}
