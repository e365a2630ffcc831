package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// FuzzModelInfer feeds arbitrary bytes through what a ModelInfer call's
// body goes through: the server's own decoding (decodeInferRequest, which
// must agree with proto.Unmarshal) and then ModelInfer's validation and
// execution on the built-in models. No input may panic the server.
//
//	go test ./server -run '^$' -fuzz FuzzModelInfer -fuzztime 60s
func FuzzModelInfer(f *testing.F) {
	srv, err := New(Options{MetricsAddr: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	seed := func(req *pb.ModelInferRequest) {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(mlpRequest(2))
	seed(client.NewRequest("calibrated", client.Tensor{Name: "input", Shape: []int64{1, 16}, Data: make([]float32, 16)}))
	seed(client.NewRequest("deepclean", client.Tensor{Name: "snapshot", Shape: []int64{21, 4096}, Data: make([]float32, 21*4096)}))
	seed(client.NewRequest("end-to-end", client.Tensor{Name: "noisy", Shape: []int64{3, 64}, Data: make([]float32, 3*64)}))
	upd := client.NewRequest("stream-e2e", client.Tensor{Name: "update", Shape: []int64{21, 8}, Data: make([]float32, 21*8)})
	client.SetSequence(upd, 42, true, false)
	seed(upd)
	fp32 := &pb.ModelInferRequest{ModelName: "mlp", Id: "x", Inputs: []*pb.ModelInferRequest_InferInputTensor{{
		Name: "x", Datatype: "FP32", Shape: []int64{1, 64}, Contents: &pb.InferTensorContents{Fp32Contents: make([]float32, 64)}}},
		Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "y"}}}
	seed(fp32)
	f.Add([]byte{0x3a, 0x02, 0x00, 0x00}) // raw_input_contents only
	f.Add([]byte{0x0a, 0x03, 'm', 'l', 'p', 0x3a, 0x80})

	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeInferRequest(b)
		want := &pb.ModelInferRequest{}
		werr := proto.Unmarshal(b, want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeInferRequest error %v, proto.Unmarshal error %v", err, werr)
		}
		if err != nil {
			return
		}
		if !proto.Equal(got, want) {
			t.Fatalf("decodeInferRequest disagrees with proto.Unmarshal:\n got %v\nwant %v", got, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = srv.ModelInfer(ctx, got)
		srv.dropSequences() // started sequences would pile up over millions of inputs
	})
}

// dropSequences forgets every live sequence.
func (s *Server) dropSequences() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.models {
		for _, mv := range e.versions {
			mv.seqMu.Lock()
			clear(mv.seqs)
			mv.seqMu.Unlock()
		}
	}
}
