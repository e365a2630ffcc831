package backend

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// AddSubName is the backend of Triton's example models simple and
// simple_string: two inputs of the same shape in, their elementwise sum
// and difference out (OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1).
// On TYPE_STRING the elements are decimal integers, computed as INT32 and
// written back as decimal, as Triton's simple_string does.
const AddSubName = "iaasbench_add_sub"

// AddSub is the model; it has no parameters.
type AddSub struct {
	Type pb.DataType
}

func newAddSub(p params) (*AddSub, error) {
	if err := p.knownKeys(); err != nil {
		return nil, err
	}
	if len(p.cfg.GetInput()) != 2 || len(p.cfg.GetOutput()) != 2 {
		return nil, fmt.Errorf("backend %s needs 2 inputs and 2 outputs (sum, difference), got %d and %d", AddSubName, len(p.cfg.GetInput()), len(p.cfg.GetOutput()))
	}
	dt := p.cfg.GetInput()[0].GetDataType()
	if err := p.requireTypes(AddSubName, dt); err != nil {
		return nil, fmt.Errorf("all tensors must share one data type: %w", err)
	}
	switch dt {
	case pb.DataType_TYPE_INT32, pb.DataType_TYPE_INT64, pb.DataType_TYPE_FP32, pb.DataType_TYPE_STRING:
	default:
		return nil, fmt.Errorf("backend %s computes on TYPE_INT32, TYPE_INT64, TYPE_FP32 or TYPE_STRING (decimal), not %s", AddSubName, dt)
	}
	return &AddSub{Type: dt}, nil
}

// NewState: stateless.
func (m *AddSub) NewState() any { return nil }

// NewInstance returns an instance; it keeps nothing between executions.
func (m *AddSub) NewInstance() (Instance, error) { return addSubInstance{m}, nil }

type addSubInstance struct{ m *AddSub }

func (in addSubInstance) Execute(_ context.Context, b *Batch) error {
	x, y := &b.Inputs[0], &b.Inputs[1]
	if x.Len() != y.Len() {
		return fmt.Errorf("%w: inputs have %d and %d elements; sum and difference need equal shapes (%v, %v)", ErrInput, x.Len(), y.Len(), x.Shape, y.Shape)
	}
	n := x.Len()
	sum := Tensor{Type: x.Type, Shape: append([]int64(nil), x.Shape...)}
	diff := Tensor{Type: x.Type, Shape: append([]int64(nil), x.Shape...)}
	switch x.Type {
	case pb.DataType_TYPE_FP32:
		sum.FP32, diff.FP32 = make([]float32, n), make([]float32, n)
		for i := range n {
			sum.FP32[i] = x.FP32[i] + y.FP32[i]
			diff.FP32[i] = x.FP32[i] - y.FP32[i]
		}
	case pb.DataType_TYPE_INT32:
		sum.Raw, diff.Raw = make([]byte, 4*n), make([]byte, 4*n)
		for i := range n {
			a, c := int32(binary.LittleEndian.Uint32(x.Raw[4*i:])), int32(binary.LittleEndian.Uint32(y.Raw[4*i:]))
			binary.LittleEndian.PutUint32(sum.Raw[4*i:], uint32(a+c))
			binary.LittleEndian.PutUint32(diff.Raw[4*i:], uint32(a-c))
		}
	case pb.DataType_TYPE_INT64:
		sum.Raw, diff.Raw = make([]byte, 8*n), make([]byte, 8*n)
		for i := range n {
			a, c := int64(binary.LittleEndian.Uint64(x.Raw[8*i:])), int64(binary.LittleEndian.Uint64(y.Raw[8*i:]))
			binary.LittleEndian.PutUint64(sum.Raw[8*i:], uint64(a+c))
			binary.LittleEndian.PutUint64(diff.Raw[8*i:], uint64(a-c))
		}
	case pb.DataType_TYPE_STRING:
		sum.Bytes, diff.Bytes = make([][]byte, n), make([][]byte, n)
		for i := range n {
			a, err := decimalInt32(x.Bytes[i])
			if err != nil {
				return fmt.Errorf("%w: INPUT0 element %d: %v", ErrInput, i, err)
			}
			c, err := decimalInt32(y.Bytes[i])
			if err != nil {
				return fmt.Errorf("%w: INPUT1 element %d: %v", ErrInput, i, err)
			}
			sum.Bytes[i] = strconv.AppendInt(nil, int64(a+c), 10)
			diff.Bytes[i] = strconv.AppendInt(nil, int64(a-c), 10)
		}
	default:
		return fmt.Errorf("data type %s not computed", x.Type)
	}
	b.Outputs = append(b.Outputs[:0], sum, diff)
	return nil
}

// decimalInt32 reads a decimal integer in INT32 range, as the ONNX cast
// in Triton's simple_string model does.
func decimalInt32(b []byte) (int32, error) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal integer", b)
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Errorf("%d is out of INT32 range", v)
	}
	return int32(v), nil
}
