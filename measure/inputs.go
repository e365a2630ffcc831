package measure

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// maxInputBytes bounds one input tensor made by the load generator.
const maxInputBytes = 1 << 30

// buildInputs makes every input once, of the metadata's shape with the
// batch dimension set to the batch size, variable dimensions set from
// Shapes (or for sequences to fs/r), and data of the metadata's datatype:
// random values (small non-negative integers for integer types, [0, 1)
// for floating point), and for BYTES random strings of StringLength
// letters and digits, or StringData in every element.
func buildInputs(o *Options, md *pb.ModelMetadataResponse, batching bool) (*pb.ModelInferRequest, string, error) {
	req := &pb.ModelInferRequest{ModelName: o.Model, ModelVersion: o.Version}
	rng := rand.New(rand.NewPCG(o.Seed, 0x1aa5))
	var desc []string
	if len(md.GetInputs()) == 0 {
		return nil, "", fmt.Errorf("model %q has no inputs in its metadata", o.Model)
	}
	for _, in := range md.GetInputs() {
		meta := in.GetShape()
		shape := make([]int64, 0, len(meta))
		dims := meta
		if batching {
			if len(meta) == 0 {
				return nil, "", fmt.Errorf("model %q input %q: batching model with an empty shape", o.Model, in.GetName())
			}
			shape = append(shape, int64(o.BatchSize))
			dims = meta[1:]
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
