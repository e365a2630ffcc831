package server

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// ModelInfer runs one inference request.
func (s *Server) ModelInfer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	return s.infer(ctx, req)
}

// ModelStreamInfer serves a bidirectional stream. Requests of a sequence
// run in arrival order (their state depends on it); others run
// concurrently and may answer out of order, matched by id, as in Triton.
// Errors travel in the response's error_message and the stream goes on.
func (s *Server) ModelStreamInfer(stream grpc.BidiStreamingServer[pb.ModelInferRequest, pb.ModelStreamInferResponse]) error {
	ctx := stream.Context()
	var sendMu sync.Mutex
	var sendErr error
	send := func(resp *pb.ModelInferResponse, err error, id string) {
		m := &pb.ModelStreamInferResponse{InferResponse: resp}
		if err != nil {
			m.ErrorMessage = status.Convert(err).Message()
			m.InferResponse = &pb.ModelInferResponse{Id: id}
		}
		sendMu.Lock()
		if sendErr == nil {
			sendErr = stream.Send(m)
		}
		sendMu.Unlock()
	}
	workers := newStreamWorkers(func(req *pb.ModelInferRequest) {
		resp, err := s.infer(ctx, req)
		send(resp, err, req.GetId())
	})
	defer workers.close()
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil // client closed its side, or the stream broke
		}
		if _, ok := req.GetParameters()["sequence_id"]; ok {
			resp, err := s.infer(ctx, req)
			send(resp, err, req.GetId())
			continue
		}
		workers.run(req)
	}
}

func (s *Server) infer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	call := grpcCall{req: req}
	if err := s.serveInfer(ctx, req.GetModelName(), req.GetModelVersion(), &request{}, &call); err != nil {
		return nil, err
	}
	return call.resp, nil
}

// frontEnd is one protocol's side of an inference request: it decodes and
// checks the inputs into the request, and encodes the outputs.
type frontEnd interface {
	bind(cfg *pb.ModelConfig, r *request) error
	emit(rt *runtime, r *request) error
}

// serveInfer runs one request through the model's runtime. gRPC and HTTP
// both come here, so they share scheduling, statistics and validation.
// emit runs while the runtime is still held.
func (s *Server) serveInfer(ctx context.Context, model, version string, r *request, fe frontEnd) error {
	arrived := time.Now()
	rt, err := s.acquire(model, version)
	if err != nil {
		return err
	}
	defer rt.release()
	r.ctx, r.arrived = ctx, arrived
	if err := fe.bind(rt.cfg, r); err != nil {
		rt.mv.stats.request(false, arrived, time.Now(), 0, 0, 0, 0)
		return err
	}
	// Each clock reading costs ~0.2 µs on a VM's clock source, so every
	// one is taken once and shared: the end of decoding is where the
	// queue starts (see inferDirect), the end of the response is the
	// request's end and its last-inference time.
	r.inNS = int64(time.Since(arrived))
	if err := rt.infer(r); err != nil {
		rt.mv.stats.request(false, arrived, time.Now(), 0, 0, 0, 0)
		return err
	}
	t := time.Now()
	err = fe.emit(rt, r)
	end := time.Now()
	r.outNS += int64(end.Sub(t))
	rt.mv.stats.request(err == nil, arrived, end, r.queueNS, r.inNS, r.inferNS, r.outNS)
	return err
}

// grpcCall is the gRPC front-end of one ModelInfer call.
type grpcCall struct {
	req  *pb.ModelInferRequest
	resp *pb.ModelInferResponse
}

// bind checks the request against the model config and decodes its
// tensors, naming the offending input on error.
func (g *grpcCall) bind(cfg *pb.ModelConfig, r *request) error {
	req := g.req
	if err := decodeSequence(req, &r.seq); err != nil {
		return err
	}
	if t, ok := req.GetParameters()["timeout"]; ok {
		us, err := timeoutParam(t)
		if err != nil {
			return err
		}
		r.timeoutUS = us
	}
	raw := req.GetRawInputContents()
	if len(raw) > 0 {
		// Triton refuses this mix: which of the two would be the data?
		for _, t := range req.GetInputs() {
			if t.Contents != nil {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q has typed contents but the request also carries raw_input_contents; send all inputs one way or the other", cfg.Name, t.GetName())
			}
		}
		if len(raw) != len(req.GetInputs()) {
			return status.Errorf(codes.InvalidArgument, "model %q: %d raw_input_contents for %d inputs", cfg.Name, len(raw), len(req.GetInputs()))
		}
	}
	b, err := newBinder(cfg, r, len(req.GetInputs()))
	if err != nil {
		return err
	}
	for i, t := range req.GetInputs() {
		slot, n, err := b.input(t.GetName(), t.GetDatatype(), t.GetShape())
		if err != nil {
			return err
		}
		switch {
		case len(raw) > 0:
			err = decodeRawView(cfg.Name, t.GetName(), slot, n, raw[i])
		case t.Contents != nil:
			err = decodeTyped(cfg.Name, t.GetName(), slot, n, t.GetContents())
		case n == 0:
		default:
			err = status.Errorf(codes.InvalidArgument, "model %q: input %q carries no data: send raw_input_contents or typed contents", cfg.Name, t.GetName())
		}
		if err != nil {
			return err
		}
	}
	return b.finish()
}

// emit writes the requested outputs (all when none are named) as raw
// contents, as Triton's gRPC endpoint does.
func (g *grpcCall) emit(rt *runtime, r *request) error {
	cfg := rt.cfg
	var names []string
	for _, o := range g.req.GetOutputs() {
		names = append(names, o.GetName())
	}
	idx, err := selectOutputs(cfg, r, names, nil)
	if err != nil {
		return err
	}
	resp := &pb.ModelInferResponse{ModelName: cfg.Name, ModelVersion: rt.mv.version, Id: g.req.GetId()}
	resp.Outputs = make([]*pb.ModelInferResponse_InferOutputTensor, 0, len(idx))
	resp.RawOutputContents = make([][]byte, 0, len(idx))
	for _, i := range idx {
		o := &r.outputs[i]
		resp.Outputs = append(resp.Outputs, &pb.ModelInferResponse_InferOutputTensor{Name: cfg.GetOutput()[i].GetName(), Datatype: wireDatatype(o.Type), Shape: o.Shape})
		var b []byte
		switch o.Type {
		case pb.DataType_TYPE_FP32:
			b = rawBytes(o.FP32)
		case pb.DataType_TYPE_STRING:
			b = appendRaw(make([]byte, 0, rawSize(o)), o)
		default:
			b = o.Raw
		}
		resp.RawOutputContents = append(resp.RawOutputContents, b)
	}
	g.resp = resp
	return nil
}

func decodeSequence(req *pb.ModelInferRequest, sc *seqControl) error {
	p := req.GetParameters()
	if len(p) == 0 {
		return nil
	}
	if id, ok := p["sequence_id"]; ok {
		switch v := id.GetParameterChoice().(type) {
		case *pb.InferParameter_Int64Param:
			if v.Int64Param != 0 {
				sc.key = strconv.FormatInt(v.Int64Param, 10)
			}
		case *pb.InferParameter_Uint64Param:
			if v.Uint64Param != 0 {
				sc.key = strconv.FormatUint(v.Uint64Param, 10)
			}
		case *pb.InferParameter_StringParam:
			sc.key = strconv.Quote(v.StringParam)
		default:
			return status.Error(codes.InvalidArgument, "parameter sequence_id must be an int64 or string")
		}
	}
	sc.start = p["sequence_start"].GetBoolParam()
	sc.end = p["sequence_end"].GetBoolParam()
	return nil
}

// timeoutParam reads a request's "timeout" parameter: microseconds a
// request may wait in the queue, honoured where the model's queue policy
// sets allow_timeout_override.
func timeoutParam(p *pb.InferParameter) (uint64, error) {
	switch v := p.GetParameterChoice().(type) {
	case *pb.InferParameter_Int64Param:
		if v.Int64Param >= 0 {
			return uint64(v.Int64Param), nil
		}
	case *pb.InferParameter_Uint64Param:
		return v.Uint64Param, nil
	}
	return 0, status.Error(codes.InvalidArgument, "parameter timeout must be a non-negative integer (microseconds)")
}

// shapeFits reports whether a request's shape fits a config's dims, after
// the batch dimension where the model batches (-1 in dims is any size).
func shapeFits(got []int64, batching bool, dims []int64) bool {
	if batching {
		if len(got) == 0 {
			return false
		}
		got = got[1:]
	}
	if len(got) != len(dims) {
		return false
	}
	for i := range got {
		if got[i] < 0 || (dims[i] >= 0 && got[i] != dims[i]) {
			return false
		}
	}
	return true
}

func inputNames(cfg *pb.ModelConfig) string {
	out := ""
	for i, in := range cfg.GetInput() {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s %v", in.GetName(), fullShape(cfg.GetMaxBatchSize() > 0, in.GetDims()))
	}
	return out
}
