package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
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
	var wg sync.WaitGroup
	defer wg.Wait()
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := s.infer(ctx, req)
			send(resp, err, req.GetId())
		}()
	}
}

func (s *Server) infer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	arrived := time.Now()
	rt, err := s.acquire(req.GetModelName(), req.GetModelVersion())
	if err != nil {
		return nil, err
	}
	defer rt.release()
	r := &request{ctx: ctx, arrived: arrived}
	if err := decodeRequest(rt.cfg, req, r); err != nil {
		rt.mv.stats.request(false, int64(time.Since(arrived)), 0, 0, 0, 0)
		return nil, err
	}
	r.inNS = int64(time.Since(arrived))
	if err := rt.infer(r); err != nil {
		rt.mv.stats.request(false, int64(time.Since(arrived)), 0, 0, 0, 0)
		return nil, err
	}
	t := time.Now()
	resp, err := encodeResponse(rt.cfg, req, r, rt.mv.version)
	r.outNS += int64(time.Since(t))
	rt.mv.stats.request(err == nil, int64(time.Since(arrived)), r.queueNS, r.inNS, r.inferNS, r.outNS)
	return resp, err
}

// decodeRequest checks the request against the model config and converts
// its tensors to float32, naming the offending input on error.
func decodeRequest(cfg *pb.ModelConfig, req *pb.ModelInferRequest, r *request) error {
	if err := decodeSequence(req, &r.seq); err != nil {
		return err
	}
	ins := cfg.GetInput()
	if len(req.GetInputs()) != len(ins) {
		return status.Errorf(codes.InvalidArgument, "model %q expects %d inputs (%s), got %d", cfg.Name, len(ins), inputNames(cfg), len(req.GetInputs()))
	}
	raw := req.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(req.GetInputs()) {
		return status.Errorf(codes.InvalidArgument, "model %q: %d raw_input_contents for %d inputs", cfg.Name, len(raw), len(req.GetInputs()))
	}
	batching := cfg.GetMaxBatchSize() > 0
	r.inputs = make([][]float32, len(ins))
	r.shapes = make([][]int64, len(ins))
	r.rows = 1
	seen := 0
	for i, t := range req.GetInputs() {
		idx := -1
		for j, in := range ins {
			if in.GetName() == t.GetName() {
				idx = j
				break
			}
		}
		if idx < 0 {
			return status.Errorf(codes.InvalidArgument, "model %q has no input %q (inputs: %s)", cfg.Name, t.GetName(), inputNames(cfg))
		}
		if r.shapes[idx] != nil {
			return status.Errorf(codes.InvalidArgument, "model %q: input %q given twice", cfg.Name, t.GetName())
		}
		seen++
		in := ins[idx]
		if t.GetDatatype() != "FP32" {
			return status.Errorf(codes.InvalidArgument, "model %q: input %q has datatype %s, expected FP32", cfg.Name, t.GetName(), t.GetDatatype())
		}
		want := fullShape(batching, in.GetDims())
		shape := t.GetShape()
		if !shapeMatches(shape, want) {
			return status.Errorf(codes.InvalidArgument, "model %q: input %q has shape %v, expected %v (-1 is any size)", cfg.Name, t.GetName(), shape, want)
		}
		if batching {
			rows := int(shape[0])
			if rows < 1 || rows > int(cfg.GetMaxBatchSize()) {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q has batch size %d, expected 1..%d (max_batch_size)", cfg.Name, t.GetName(), rows, cfg.GetMaxBatchSize())
			}
			if i > 0 && rows != r.rows {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q has batch size %d but earlier inputs have %d", cfg.Name, t.GetName(), rows, r.rows)
			}
			r.rows = rows
		}
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		var data []float32
		if len(raw) > 0 {
			b := raw[i]
			if int64(len(b)) != n*4 {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q of shape %v needs %d bytes of FP32, got %d", cfg.Name, t.GetName(), shape, n*4, len(b))
			}
			data = make([]float32, n)
			for k := range data {
				data[k] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:]))
			}
		} else {
			data = t.GetContents().GetFp32Contents()
			if int64(len(data)) != n {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q of shape %v needs %d fp32_contents values, got %d", cfg.Name, t.GetName(), shape, n, len(data))
			}
		}
		r.inputs[idx] = data
		r.shapes[idx] = shape
	}
	if seen != len(ins) {
		return status.Errorf(codes.InvalidArgument, "model %q expects inputs %s", cfg.Name, inputNames(cfg))
	}
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

func shapeMatches(got, want []int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] < 0 || (want[i] >= 0 && got[i] != want[i]) {
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

// encodeResponse writes the requested outputs (all when none are named)
// as raw little-endian FP32, as Triton's clients read them.
func encodeResponse(cfg *pb.ModelConfig, req *pb.ModelInferRequest, r *request, version string) (*pb.ModelInferResponse, error) {
	resp := &pb.ModelInferResponse{ModelName: cfg.Name, ModelVersion: version, Id: req.GetId()}
	want := req.GetOutputs()
	add := func(i int) {
		o := cfg.GetOutput()[i]
		data := r.outputs[i]
		b := make([]byte, 4*len(data))
		for k, v := range data {
			binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(v))
		}
		resp.Outputs = append(resp.Outputs, &pb.ModelInferResponse_InferOutputTensor{Name: o.GetName(), Datatype: "FP32", Shape: r.outShapes[i]})
		resp.RawOutputContents = append(resp.RawOutputContents, b)
	}
	if len(want) == 0 {
		for i := range cfg.GetOutput() {
			add(i)
		}
		return resp, nil
	}
	for _, w := range want {
		found := false
		for i, o := range cfg.GetOutput() {
			if o.GetName() == w.GetName() {
				add(i)
				found = true
				break
			}
		}
		if !found {
			return nil, status.Errorf(codes.InvalidArgument, "model %q has no output %q", cfg.Name, w.GetName())
		}
	}
	return resp, nil
}
