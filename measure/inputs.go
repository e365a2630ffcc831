package measure

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/measure/inputdata"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// maxInputBytes bounds one input tensor made by the load generator, and
// twice that all the requests made from an input data file.
const maxInputBytes = 1 << 30

// inputSet is what the load's requests are made from: per data stream,
// the request templates (inputs and raw contents, shared read-only) that
// its requests cycle through. Generated data is one stream of one.
type inputSet struct {
	streams [][]*pb.ModelInferRequest
	// expect, aligned with streams, is what each template's response
	// must hold (validation_data); nil without validation data, and nil
	// for a template whose entries expect nothing.
	expect [][]*expectation
	desc   string             // the first request's inputs, for messages
	record *results.InputData // nil for generated data
}

// isGenerated says whether InputData names generated data rather than a
// file or directory.
func isGenerated(inputData string) bool {
	switch inputData {
	case "", "random", "zero":
		return true
	}
	return false
}

// buildInputs makes the requests' inputs: generated once (random or
// zero), or read from the file or directory o.InputData names.
func buildInputs(o *Options, md *pb.ModelMetadataResponse, batching bool) (*inputSet, error) {
	if len(md.GetInputs()) == 0 {
		return nil, fmt.Errorf("model %q has no inputs in its metadata", o.Model)
	}
	if !isGenerated(o.InputData) {
		return fileInputs(o, md, batching)
	}
	req, desc, err := generatedInputs(o, md, batching)
	if err != nil {
		return nil, err
	}
	return &inputSet{streams: [][]*pb.ModelInferRequest{{req}}, desc: desc}, nil
}

// rowShape is an input's shape without the batch dimension.
func rowShape(o *Options, in *pb.ModelMetadataResponse_TensorMetadata, batching bool) ([]int64, error) {
	meta := in.GetShape()
	if !batching {
		return meta, nil
	}
	if len(meta) == 0 {
		return nil, fmt.Errorf("model %q input %q: batching model with an empty shape", o.Model, in.GetName())
	}
	return meta[1:], nil
}

// fileInputs reads perf_analyzer's input data against the model's
// inputs and joins the entries of each stream into requests: for a batch
// of b, the request that starts at entry k carries entries k..k+b-1
// (wrapping around), as perf_analyzer does; a stream of L entries then
// has L/gcd(L, b) distinct requests, which its requests cycle through.
func fileInputs(o *Options, md *pb.ModelMetadataResponse, batching bool) (*inputSet, error) {
	var ins []inputdata.Input
	for _, in := range md.GetInputs() {
		dims, err := rowShape(o, in, batching)
		if err != nil {
			return nil, err
		}
		ins = append(ins, inputdata.Input{Name: in.GetName(), Datatype: in.GetDatatype(), Shape: dims, Default: o.Shapes[in.GetName()]})
	}
	var outs []inputdata.Input
	for _, out := range md.GetOutputs() {
		dims, err := rowShape(o, out, batching)
		if err != nil {
			return nil, err
		}
		outs = append(outs, inputdata.Input{Name: out.GetName(), Datatype: out.GetDatatype(), Shape: dims})
	}
	data, err := inputdata.Load(o.InputData, ins, outs)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", o.Model, err)
	}
	validate := data.HasValidation()
	if validate && o.RPC == workload.RPCStream {
		return nil, fmt.Errorf("model %q: input data %s has validation_data, which is checked on unary requests only: leave out --rpc stream or the validation data", o.Model, o.InputData)
	}
	rows := 1
	if batching {
		rows = o.BatchSize
	}
	set := &inputSet{record: &results.InputData{Source: filepath.Base(o.InputData), Streams: len(data.Streams), Entries: data.Entries()}}
	var total int64
	for si, stream := range data.Streams {
		n := len(stream) / gcd(len(stream), rows)
		reqs := make([]*pb.ModelInferRequest, n)
		var expect []*expectation
		if validate {
			expect = make([]*expectation, n)
		}
		for k := range reqs {
			req := &pb.ModelInferRequest{ModelName: o.Model, ModelVersion: o.Version}
			first := k * rows % len(stream)
			for i, in := range ins {
				t0 := stream[first][i]
				shape := t0.Shape
				if batching {
					shape = append([]int64{int64(rows)}, t0.Shape...)
				}
				var raw []byte
				for j := range rows {
					e := (first + j) % len(stream)
					t := stream[e][i]
					if !slices.Equal(t.Shape, t0.Shape) {
						return nil, fmt.Errorf("model %q: input data %s: stream %d: entries %d and %d give input %q shapes %v and %v: a batch of %d needs one shape",
							o.Model, o.InputData, si, first, e, in.Name, t0.Shape, t.Shape, rows)
					}
					raw = append(raw, t.Raw...)
				}
				if len(raw) > maxInputBytes {
					return nil, fmt.Errorf("model %q input %q: input data %s: a request of %d bytes, more than 1 GiB", o.Model, in.Name, o.InputData, len(raw))
				}
				total += int64(len(raw))
				if total > 2*maxInputBytes {
					return nil, fmt.Errorf("model %q: input data %s: more than 2 GiB of requests (%d streams, %d entries, batch size %d)",
						o.Model, o.InputData, len(data.Streams), data.Entries(), rows)
				}
				req.Inputs = append(req.Inputs, &pb.ModelInferRequest_InferInputTensor{Name: in.Name, Datatype: in.Datatype, Shape: shape})
				req.RawInputContents = append(req.RawInputContents, raw)
			}
			reqs[k] = req
			if validate {
				e, err := newExpectation(data.Expected[si], si, first, rows, outs)
				if err != nil {
					return nil, fmt.Errorf("model %q: input data %s: %w", o.Model, o.InputData, err)
				}
				expect[k] = e
			}
		}
		set.streams = append(set.streams, reqs)
		if validate {
			set.expect = append(set.expect, expect)
		}
	}
	var desc []string
	for _, in := range set.streams[0][0].GetInputs() {
		desc = append(desc, fmt.Sprintf("%s %s%v", in.GetName(), in.GetDatatype(), in.GetShape()))
	}
	set.desc = fmt.Sprintf("%s from %s", strings.Join(desc, ", "), o.InputData)
	return set, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// generatedInputs makes every input once, of the metadata's shape with
// the batch dimension set to the batch size, variable dimensions set from
// Shapes (or for sequences to fs/r), and data of the metadata's datatype:
// random values (small non-negative integers for integer types, [0, 1)
// for floating point), and for BYTES random strings of StringLength
// letters and digits, or StringData in every element.
func generatedInputs(o *Options, md *pb.ModelMetadataResponse, batching bool) (*pb.ModelInferRequest, string, error) {
	req := &pb.ModelInferRequest{ModelName: o.Model, ModelVersion: o.Version}
	rng := rand.New(rand.NewPCG(o.Seed, 0x1aa5))
	var desc []string
	for _, in := range md.GetInputs() {
		dims, err := rowShape(o, in, batching)
		if err != nil {
			return nil, "", err
		}
		shape := make([]int64, 0, len(dims)+1)
		if batching {
			shape = append(shape, int64(o.BatchSize))
		}
		override, hasOverride := o.Shapes[in.GetName()]
		if hasOverride && len(override) != len(dims) {
			return nil, "", fmt.Errorf("model %q input %q: shape override %v has %d dims, the model's %v has %d (without batch)",
				o.Model, in.GetName(), override, len(override), dims, len(dims))
		}
		for k, d := range dims {
			switch {
			case hasOverride:
				if override[k] <= 0 || (d >= 0 && d != override[k]) {
					return nil, "", fmt.Errorf("model %q input %q: shape override %v does not fit the model's %v", o.Model, in.GetName(), override, dims)
				}
				d = override[k]
			case d < 0 && o.Sequence:
				d = o.updateSamples()
			case d < 0:
				return nil, "", fmt.Errorf("model %q input %q has variable shape %v: give its shape (Shapes / --shape %s:...)", o.Model, in.GetName(), dims, in.GetName())
			}
			shape = append(shape, d)
		}
		dt := in.GetDatatype()
		size := client.ElementSize(dt)
		if size < 0 {
			return nil, "", fmt.Errorf("model %q input %q: datatype %q is not one of the protocol's", o.Model, in.GetName(), dt)
		}
		if size == 0 { // BYTES: a length prefix and the string
			size = 4 + o.StringLength
			if o.StringData != "" {
				size = 4 + len(o.StringData)
			}
		}
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		if n*int64(size) > maxInputBytes {
			return nil, "", fmt.Errorf("model %q input %q: shape %v is %d bytes, more than 1 GiB", o.Model, in.GetName(), shape, n*int64(size))
		}
		req.Inputs = append(req.Inputs, &pb.ModelInferRequest_InferInputTensor{Name: in.GetName(), Datatype: dt, Shape: shape})
		data := randomTensor(rng, dt, int(n), o)
		if o.InputData == "zero" && dt != "BYTES" {
			data = make([]byte, len(data))
		} else if o.InputData == "zero" {
			zeros := make([][]byte, n)
			for i := range zeros {
				zeros[i] = bytes.Repeat([]byte{'0'}, o.StringLength)
			}
			data = client.EncodeBytes(zeros)
		}
		req.RawInputContents = append(req.RawInputContents, data)
		desc = append(desc, fmt.Sprintf("%s %s%v", in.GetName(), dt, shape))
	}
	return req, strings.Join(desc, ", "), nil
}

// stringChars are the characters of random BYTES elements: text any
// server and JSON can carry.
const stringChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomTensor is n elements of datatype dt in Triton's raw form.
func randomTensor(rng *rand.Rand, dt string, n int, o *Options) []byte {
	le := binary.LittleEndian
	switch dt {
	case "BYTES":
		elems := make([][]byte, n)
		for i := range elems {
			if o.StringData != "" {
				elems[i] = []byte(o.StringData)
				continue
			}
			e := make([]byte, o.StringLength)
			for j := range e {
				e[j] = stringChars[rng.IntN(len(stringChars))]
			}
			elems[i] = e
		}
		return client.EncodeBytes(elems)
	case "FP32":
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()
		}
		return client.EncodeFP32(v)
	}
	size := client.ElementSize(dt)
	out := make([]byte, 0, n*size)
	for range n {
		switch dt {
		case "FP64":
			out = le.AppendUint64(out, math.Float64bits(rng.Float64()))
		case "FP16":
			out = le.AppendUint16(out, client.Float32ToHalf(rng.Float32()))
		case "BF16":
			out = le.AppendUint16(out, uint16(math.Float32bits(rng.Float32())>>16))
		case "BOOL":
			out = append(out, byte(rng.IntN(2)))
		default:
			// Integers in [0, 128): valid in every integer type, and as
			// indices into any table of 128 entries or more.
			v := uint64(rng.IntN(128))
			for b := 0; b < size; b++ {
				out = append(out, byte(v>>(8*b)))
			}
		}
	}
	return out
}
