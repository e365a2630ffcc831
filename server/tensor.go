package server

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
)

// wireDatatype is the KServe v2 name of a config data type ("FP32",
// "BYTES" for TYPE_STRING).
func wireDatatype(dt pb.DataType) string {
	if dt == pb.DataType_TYPE_STRING {
		return "BYTES"
	}
	return strings.TrimPrefix(dt.String(), "TYPE_")
}

// binder checks a request's inputs against the model config and places
// each in its slot of r.inputs. Both front-ends use it, so gRPC and HTTP
// refuse the same requests with the same messages; each decodes the data
// from its own wire form into the slot it returns.
type binder struct {
	cfg  *pb.ModelConfig
	r    *request
	seen int
}

func newBinder(cfg *pb.ModelConfig, r *request, inputs int) (binder, error) {
	ins := cfg.GetInput()
	if inputs != len(ins) {
		return binder{}, status.Errorf(codes.InvalidArgument, "model %q expects %d inputs (%s), got %d", cfg.Name, len(ins), inputNames(cfg), inputs)
	}
	if cap(r.inputs) >= len(ins) {
		r.inputs = r.inputs[:len(ins)]
		for i := range r.inputs {
			t := &r.inputs[i]
			*t = backend.Tensor{FP32: t.FP32[:0], Bytes: t.Bytes[:0], Shape: t.Shape[:0]}
		}
	} else {
		r.inputs = make([]backend.Tensor, len(ins))
	}
	if cap(r.bound) >= len(ins) {
		r.bound = r.bound[:len(ins)]
		clear(r.bound)
	} else {
		r.bound = make([]bool, len(ins))
	}
	r.rows = 1
	return binder{cfg: cfg, r: r}, nil
}

// input checks one input's name, datatype and shape; it returns the slot
// to fill and the element count its shape gives.
func (b *binder) input(name, datatype string, shape []int64) (*backend.Tensor, int, error) {
	cfg := b.cfg
	idx := -1
	for j, in := range cfg.GetInput() {
		if in.GetName() == name {
			idx = j
			break
		}
	}
	if idx < 0 {
		return nil, 0, status.Errorf(codes.InvalidArgument, "model %q has no input %q (inputs: %s)", cfg.Name, name, inputNames(cfg))
	}
	if b.r.bound[idx] {
		return nil, 0, status.Errorf(codes.InvalidArgument, "model %q: input %q given twice", cfg.Name, name)
	}
	in := cfg.GetInput()[idx]
	if want := wireDatatype(in.GetDataType()); datatype != want {
		return nil, 0, status.Errorf(codes.InvalidArgument, "model %q: input %q has datatype %s, expected %s", cfg.Name, name, datatype, want)
	}
	for i, d := range shape {
		if d < 0 {
			return nil, 0, status.Errorf(codes.InvalidArgument, "model %q: input %q has shape %v with negative dimension %d at index %d; a request gives each dimension's actual size (-1, \"any size\", belongs in model configs only)", cfg.Name, name, shape, d, i)
		}
	}
	batching := cfg.GetMaxBatchSize() > 0
	if !shapeFits(shape, batching, in.GetDims()) {
		return nil, 0, status.Errorf(codes.InvalidArgument, "model %q: input %q has shape %v, expected %v (-1 is any size)", cfg.Name, name, shape, fullShape(batching, in.GetDims()))
	}
	if batching {
		rows := int(shape[0])
		if rows < 1 || rows > int(cfg.GetMaxBatchSize()) {
			return nil, 0, status.Errorf(codes.InvalidArgument, "model %q: input %q has batch size %d, expected 1..%d (max_batch_size)", cfg.Name, name, rows, cfg.GetMaxBatchSize())
		}
		if b.seen > 0 && rows != b.r.rows {
			return nil, 0, status.Errorf(codes.InvalidArgument, "model %q: input %q has batch size %d but earlier inputs have %d", cfg.Name, name, rows, b.r.rows)
		}
		b.r.rows = rows
	}
	n := int64(1)
	for _, d := range shape {
		if d != 0 && n > math.MaxInt32/d {
			return nil, 0, status.Errorf(codes.InvalidArgument, "model %q: input %q has shape %v, more than %d elements", cfg.Name, name, shape, math.MaxInt32)
		}
		n *= d
	}
	b.seen++
	b.r.bound[idx] = true
	t := &b.r.inputs[idx]
	t.Type = in.GetDataType()
	t.Shape = append(t.Shape[:0], shape...)
	return t, int(n), nil
}

func (b *binder) finish() error {
	if b.seen != len(b.cfg.GetInput()) {
		return status.Errorf(codes.InvalidArgument, "model %q expects inputs %s", b.cfg.Name, inputNames(b.cfg))
	}
	return nil
}

// decodeRaw fills t from raw contents: little-endian elements, or for
// BYTES, elements each preceded by its 4-byte little-endian length, as
// Triton's raw_input_contents and binary data extension carry them. Raw
// bytes of types other than FP32 and BYTES are kept, not copied.
func decodeRaw(model, name string, t *backend.Tensor, n int, raw []byte) error {
	if t.Type == pb.DataType_TYPE_STRING {
		return splitBytes(model, name, t, n, raw)
	}
	size := backend.ElementSize(t.Type)
	if len(raw) != n*size {
		return status.Errorf(codes.InvalidArgument, "model %q: input %q of shape %v needs %d bytes of %s, got %d", model, name, t.Shape, n*size, wireDatatype(t.Type), len(raw))
	}
	if t.Type == pb.DataType_TYPE_FP32 {
		t.FP32 = growF32(t.FP32, n)
		for k := range t.FP32 {
			t.FP32[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
		}
		return nil
	}
	t.Raw = raw
	return nil
}

// splitBytes checks and splits serialized BYTES elements. The elements
// alias raw.
func splitBytes(model, name string, t *backend.Tensor, n int, raw []byte) error {
	els := t.Bytes[:0]
	off := 0
	for i := 0; i < n; i++ {
		left := len(raw) - off
		if left == 0 {
			return status.Errorf(codes.InvalidArgument, "model %q: input %q: BYTES data ends after %d of the %d elements its shape %v gives", model, name, i, n, t.Shape)
		}
		if left < 4 {
			return status.Errorf(codes.InvalidArgument, "model %q: input %q: BYTES element %d is truncated: %d bytes left where its 4-byte length prefix belongs", model, name, i, left)
		}
		l := binary.LittleEndian.Uint32(raw[off:])
		off += 4
		if uint64(l) > uint64(len(raw)-off) {
			return status.Errorf(codes.InvalidArgument, "model %q: input %q: BYTES element %d declares %d bytes but only %d remain (truncated data or an overlong length prefix)", model, name, i, l, len(raw)-off)
		}
		els = append(els, raw[off:off+int(l):off+int(l)])
		off += int(l)
	}
	if off != len(raw) {
		return status.Errorf(codes.InvalidArgument, "model %q: input %q: %d bytes left over after the %d BYTES elements its shape %v gives (an overlong element or a wrong shape)", model, name, len(raw)-off, n, t.Shape)
	}
	t.Bytes = els
	return nil
}

func growF32(b []float32, n int) []float32 {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]float32, n)
}

// decodeTyped fills t from gRPC typed contents (the field that matches the
// datatype, as Triton reads them).
func decodeTyped(model, name string, t *backend.Tensor, n int, c *pb.InferTensorContents) error {
	count := func(field string, got int) error {
		if got != n {
			return status.Errorf(codes.InvalidArgument, "model %q: input %q of shape %v needs %d %s values, got %d", model, name, t.Shape, n, field, got)
		}
		return nil
	}
	size := backend.ElementSize(t.Type)
	switch t.Type {
	case pb.DataType_TYPE_FP32:
		if err := count("fp32_contents", len(c.GetFp32Contents())); err != nil {
			return err
		}
		t.FP32 = c.GetFp32Contents()
	case pb.DataType_TYPE_STRING:
		if err := count("bytes_contents", len(c.GetBytesContents())); err != nil {
			return err
		}
		t.Bytes = c.GetBytesContents()
	case pb.DataType_TYPE_BOOL:
		if err := count("bool_contents", len(c.GetBoolContents())); err != nil {
			return err
		}
		t.Raw = make([]byte, n)
		for i, v := range c.GetBoolContents() {
			if v {
				t.Raw[i] = 1
			}
		}
	case pb.DataType_TYPE_INT8, pb.DataType_TYPE_INT16, pb.DataType_TYPE_INT32:
		if err := count("int_contents", len(c.GetIntContents())); err != nil {
			return err
		}
		t.Raw = make([]byte, n*size)
		for i, v := range c.GetIntContents() {
			if err := putInt(t.Raw, i, size, int64(v)); err != nil {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q element %d: %v", model, name, i, err)
			}
		}
	case pb.DataType_TYPE_INT64:
		if err := count("int64_contents", len(c.GetInt64Contents())); err != nil {
			return err
		}
		t.Raw = make([]byte, n*8)
		for i, v := range c.GetInt64Contents() {
			binary.LittleEndian.PutUint64(t.Raw[8*i:], uint64(v))
		}
	case pb.DataType_TYPE_UINT8, pb.DataType_TYPE_UINT16, pb.DataType_TYPE_UINT32:
		if err := count("uint_contents", len(c.GetUintContents())); err != nil {
			return err
		}
		t.Raw = make([]byte, n*size)
		for i, v := range c.GetUintContents() {
			if err := putUint(t.Raw, i, size, uint64(v)); err != nil {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q element %d: %v", model, name, i, err)
			}
		}
	case pb.DataType_TYPE_UINT64:
		if err := count("uint64_contents", len(c.GetUint64Contents())); err != nil {
			return err
		}
		t.Raw = make([]byte, n*8)
		for i, v := range c.GetUint64Contents() {
			binary.LittleEndian.PutUint64(t.Raw[8*i:], v)
		}
	case pb.DataType_TYPE_FP64:
		if err := count("fp64_contents", len(c.GetFp64Contents())); err != nil {
			return err
		}
		t.Raw = make([]byte, n*8)
		for i, v := range c.GetFp64Contents() {
			binary.LittleEndian.PutUint64(t.Raw[8*i:], math.Float64bits(v))
		}
	default:
		return status.Errorf(codes.InvalidArgument, "model %q: input %q is %s, which has no typed contents field; send it in raw_input_contents", model, name, wireDatatype(t.Type))
	}
	return nil
}

// putInt writes v as a size-byte little-endian signed integer, refusing
// values out of its range.
func putInt(dst []byte, i, size int, v int64) error {
	bits := uint(8 * size)
	if lo, hi := -int64(1)<<(bits-1), int64(1)<<(bits-1)-1; v < lo || v > hi {
		return fmt.Errorf("%d is out of range for INT%d", v, bits)
	}
	putLE(dst[i*size:], size, uint64(v))
	return nil
}

func putUint(dst []byte, i, size int, v uint64) error {
	bits := uint(8 * size)
	if bits < 64 && v > uint64(1)<<bits-1 {
		return fmt.Errorf("%d is out of range for UINT%d", v, bits)
	}
	putLE(dst[i*size:], size, v)
	return nil
}

func putLE(dst []byte, size int, v uint64) {
	switch size {
	case 1:
		dst[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(dst, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(dst, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(dst, v)
	}
}

// rawSize is the size of a tensor in raw form (BYTES with length
// prefixes).
func rawSize(t *backend.Tensor) int {
	switch t.Type {
	case pb.DataType_TYPE_FP32:
		return 4 * len(t.FP32)
	case pb.DataType_TYPE_STRING:
		n := 0
		for _, e := range t.Bytes {
			n += 4 + len(e)
		}
		return n
	default:
		return len(t.Raw)
	}
}

// appendRaw appends t in raw form: little-endian elements, BYTES with
// 4-byte length prefixes.
func appendRaw(dst []byte, t *backend.Tensor) []byte {
	switch t.Type {
	case pb.DataType_TYPE_FP32:
		for _, v := range t.FP32 {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
		}
	case pb.DataType_TYPE_STRING:
		for _, e := range t.Bytes {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e)))
			dst = append(dst, e...)
		}
	default:
		dst = append(dst, t.Raw...)
	}
	return dst
}

// selectOutputs resolves the requested output names (all outputs, in
// config order, when none are named) to indices of the config's outputs,
// appending to dst. It also checks that the backend produced what the
// config declares.
func selectOutputs(cfg *pb.ModelConfig, r *request, names []string, dst []int) ([]int, error) {
	outs := cfg.GetOutput()
	if len(r.outputs) != len(outs) {
		return nil, status.Errorf(codes.Internal, "model %q: backend produced %d outputs, config declares %d", cfg.Name, len(r.outputs), len(outs))
	}
	for i, o := range outs {
		if r.outputs[i].Type != o.GetDataType() {
			return nil, status.Errorf(codes.Internal, "model %q: backend produced %s for output %q, config declares %s", cfg.Name, r.outputs[i].Type, o.GetName(), o.GetDataType())
		}
	}
	dst = dst[:0]
	for _, w := range names {
		found := false
		for i, o := range outs {
			if o.GetName() == w {
				dst = append(dst, i)
				found = true
				break
			}
		}
		if !found {
			return nil, status.Errorf(codes.InvalidArgument, "model %q has no output %q (outputs: %s)", cfg.Name, w, outputNames(cfg))
		}
	}
	if len(names) == 0 {
		for i := range outs {
			dst = append(dst, i)
		}
	}
	return dst, nil
}

func outputNames(cfg *pb.ModelConfig) string {
	var b strings.Builder
	for i, o := range cfg.GetOutput() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(o.GetName())
	}
	return b.String()
}
