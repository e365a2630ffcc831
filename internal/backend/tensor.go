package backend

import (
	"fmt"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Tensor is one input or output of an execution. Its elements live in
// exactly one of FP32, Bytes or Raw, chosen by Type: FP32 models compute on
// []float32 directly, string tensors are lists of byte strings, and every
// other fixed-size type stays in Triton's raw form (little-endian,
// row-major, no padding), which backends that only move data never need
// to decode.
type Tensor struct {
	Type  pb.DataType
	Shape []int64 // full shape, batch dimension included where the model batches
	FP32  []float32
	Bytes [][]byte // TYPE_STRING: one entry per element
	Raw   []byte   // any other type
}

// Len is the number of elements held.
func (t *Tensor) Len() int {
	switch t.Type {
	case pb.DataType_TYPE_FP32:
		return len(t.FP32)
	case pb.DataType_TYPE_STRING:
		return len(t.Bytes)
	default:
		if s := ElementSize(t.Type); s > 0 {
			return len(t.Raw) / s
		}
		return 0
	}
}

// ElementSize is the size in bytes of one element of a fixed-size type, or
// 0 for TYPE_STRING and TYPE_INVALID.
func ElementSize(dt pb.DataType) int {
	switch dt {
	case pb.DataType_TYPE_BOOL, pb.DataType_TYPE_UINT8, pb.DataType_TYPE_INT8:
		return 1
	case pb.DataType_TYPE_UINT16, pb.DataType_TYPE_INT16, pb.DataType_TYPE_FP16, pb.DataType_TYPE_BF16:
		return 2
	case pb.DataType_TYPE_UINT32, pb.DataType_TYPE_INT32, pb.DataType_TYPE_FP32:
		return 4
	case pb.DataType_TYPE_UINT64, pb.DataType_TYPE_INT64, pb.DataType_TYPE_FP64:
		return 8
	}
	return 0
}

// requireTypes checks that every input and output of the config has one of
// the data types a backend computes on, naming the first that does not.
func (p params) requireTypes(backendName string, types ...pb.DataType) error {
	ok := func(dt pb.DataType) bool {
		for _, t := range types {
			if dt == t {
				return true
			}
		}
		return false
	}
	for _, in := range p.cfg.GetInput() {
		if !ok(in.GetDataType()) {
			return fmt.Errorf("input %q has data_type %s; backend %s computes on %v", in.GetName(), in.GetDataType(), backendName, types)
		}
	}
	for _, out := range p.cfg.GetOutput() {
		if !ok(out.GetDataType()) {
			return fmt.Errorf("output %q has data_type %s; backend %s computes on %v", out.GetName(), out.GetDataType(), backendName, types)
		}
	}
	return nil
}
