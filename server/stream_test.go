package server_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
	"github.com/iaasbench/iaasbench/server"
)

// Many requests in flight on one stream, all sent before any answer is
// read: each is answered once, matched by id, with its own outputs; a bad
// request is answered in error_message and the stream goes on. More
// requests than the server keeps idle workers for a stream, so workers
// start, finish and leave.
func TestStreamAnswersEveryRequestByID(t *testing.T) {
	_, c := start(t, server.Options{})
	stream, err := pb.NewGRPCInferenceServiceClient(c.Conn()).ModelStreamInfer(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	mlp := backend.NewDense([]int{64, 256, 128, 64, 1}, "relu", "sigmoid", 1)
	const n, bad = 300, 137
	inputs := make([][]float32, n)
	for i := range inputs {
		inputs[i] = ramp(2*64, float32(i+1)/n)
		req := client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{2, 64}, Data: inputs[i]})
		if i == bad {
			req.ModelName = "no-such-model"
		}
		req.Id = strconv.Itoa(i)
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, n)
	for k := 0; k < n; k++ {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("after %d responses: %v", k, err)
		}
		id, err := strconv.Atoi(resp.GetInferResponse().GetId())
		if err != nil || id < 0 || id >= n || seen[id] {
			t.Fatalf("response %d has id %q: unknown or repeated", k, resp.GetInferResponse().GetId())
		}
		seen[id] = true
		if id == bad {
			if !strings.Contains(resp.GetErrorMessage(), "no-such-model") {
				t.Errorf("bad request answered %q, want an error naming the model", resp.GetErrorMessage())
			}
			continue
		}
		if resp.GetErrorMessage() != "" {
			t.Fatalf("request %d: %s", id, resp.GetErrorMessage())
		}
		out, err := client.Output(resp.GetInferResponse(), "y")
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "stream response "+strconv.Itoa(id), out.Data, naiveDense(mlp, inputs[id], 2), 1e-4)
	}
	if _, err := stream.Recv(); err == nil {
		t.Error("a response beyond the requests sent")
	}
}
