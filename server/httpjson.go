package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
)

// walkJSONArray calls fn with each leaf of a JSON array, nested arrays
// flattened in row-major order as KServe v2 allows. data has already been
// checked as JSON by encoding/json, so the walk only needs to find the
// tokens.
func walkJSONArray(data []byte, fn func(tok []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return fmt.Errorf("data must be a JSON array")
	}
	for i < len(data) {
		switch c := data[i]; c {
		case '[', ']', ',', ' ', '\t', '\r', '\n':
			i++
		case '"':
			j := i + 1
			for j < len(data) && data[j] != '"' {
				if data[j] == '\\' {
					j++
				}
				j++
			}
			if err := fn(data[i : j+1]); err != nil {
				return err
			}
			i = j + 1
		case '{':
			return fmt.Errorf("data holds a JSON object; tensor elements are numbers, booleans or strings")
		default:
			j := i
			for j < len(data) && !isDelim(data[j]) {
				j++
			}
			if err := fn(data[i:j]); err != nil {
				return err
			}
			i = j
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

func isDelim(c byte) bool {
	return c == ',' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// decodeJSONData fills t from a JSON "data" array of n elements.
func decodeJSONData(model, name string, t *backend.Tensor, n int, data []byte) error {
	bad := func(format string, args ...any) error {
		return status.Errorf(codes.InvalidArgument, "model %q: input %q: %s", model, name, fmt.Sprintf(format, args...))
	}
	if len(data) == 0 {
		return bad("no data: give \"data\" or the binary_data_size parameter")
	}
	dt := t.Type
	size := backend.ElementSize(dt)
	switch dt {
	case pb.DataType_TYPE_FP32:
		t.FP32 = t.FP32[:0]
	case pb.DataType_TYPE_STRING:
		t.Bytes = t.Bytes[:0]
	case pb.DataType_TYPE_FP16, pb.DataType_TYPE_BF16:
		return bad("%s has no JSON form; send it as binary data (the binary_data_size parameter)", wireDatatype(dt))
	default:
		t.Raw = make([]byte, 0, n*size)
	}
	k := 0
	err := walkJSONArray(data, func(tok []byte) error {
		if k >= n {
			k++
			return nil // counted, reported below
		}
		switch dt {
		case pb.DataType_TYPE_FP32:
			v, err := strconv.ParseFloat(string(tok), 32)
			if err != nil {
				return bad("element %d: %s is not a number", k, tok)
			}
			t.FP32 = append(t.FP32, float32(v))
		case pb.DataType_TYPE_FP64:
			v, err := strconv.ParseFloat(string(tok), 64)
			if err != nil {
				return bad("element %d: %s is not a number", k, tok)
			}
			t.Raw = binary.LittleEndian.AppendUint64(t.Raw, math.Float64bits(v))
		case pb.DataType_TYPE_BOOL:
			switch string(tok) {
			case "true":
				t.Raw = append(t.Raw, 1)
			case "false":
				t.Raw = append(t.Raw, 0)
			default:
				return bad("element %d: %s is not true or false", k, tok)
			}
		case pb.DataType_TYPE_STRING:
			if tok[0] != '"' {
				return bad("element %d: %s is not a string (BYTES elements are JSON strings)", k, tok)
			}
			inner := tok[1 : len(tok)-1]
			if bytes.IndexByte(inner, '\\') < 0 {
				t.Bytes = append(t.Bytes, inner) // aliases the request body
			} else {
				var s string
				if err := json.Unmarshal(tok, &s); err != nil {
					return bad("element %d: %v", k, err)
				}
				t.Bytes = append(t.Bytes, []byte(s))
			}
		case pb.DataType_TYPE_INT8, pb.DataType_TYPE_INT16, pb.DataType_TYPE_INT32, pb.DataType_TYPE_INT64:
			v, err := strconv.ParseInt(string(tok), 10, 8*size)
			if err != nil {
				return bad("element %d: %s is not an integer in %s range", k, tok, wireDatatype(dt))
			}
			t.Raw = appendLE(t.Raw, size, uint64(v))
		case pb.DataType_TYPE_UINT8, pb.DataType_TYPE_UINT16, pb.DataType_TYPE_UINT32, pb.DataType_TYPE_UINT64:
			v, err := strconv.ParseUint(string(tok), 10, 8*size)
			if err != nil {
				return bad("element %d: %s is not an integer in %s range", k, tok, wireDatatype(dt))
			}
			t.Raw = appendLE(t.Raw, size, v)
		default:
			return bad("datatype %s cannot be read from JSON", wireDatatype(dt))
		}
		k++
		return nil
	})
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return err
		}
		return bad("%v", err)
	}
	if k != n {
		return bad("shape %v needs %d elements in data, got %d", t.Shape, n, k)
	}
	return nil
}

func appendLE(dst []byte, size int, v uint64) []byte {
	switch size {
	case 1:
		return append(dst, byte(v))
	case 2:
		return binary.LittleEndian.AppendUint16(dst, uint16(v))
	case 4:
		return binary.LittleEndian.AppendUint32(dst, uint32(v))
	default:
		return binary.LittleEndian.AppendUint64(dst, v)
	}
}

// appendJSONData appends t's elements as a flat JSON array.
func appendJSONData(dst []byte, name string, t *backend.Tensor) ([]byte, error) {
	dst = append(dst, '[')
	n := t.Len()
	size := backend.ElementSize(t.Type)
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch t.Type {
		case pb.DataType_TYPE_FP32:
			v := float64(t.FP32[i])
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, status.Errorf(codes.InvalidArgument, "output %q element %d is %v, which JSON cannot carry; request the output as binary data", name, i, v)
			}
			dst = strconv.AppendFloat(dst, v, 'g', -1, 32)
		case pb.DataType_TYPE_FP64:
			v := math.Float64frombits(binary.LittleEndian.Uint64(t.Raw[8*i:]))
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, status.Errorf(codes.InvalidArgument, "output %q element %d is %v, which JSON cannot carry; request the output as binary data", name, i, v)
			}
			dst = strconv.AppendFloat(dst, v, 'g', -1, 64)
		case pb.DataType_TYPE_STRING:
			dst = appendJSONString(dst, t.Bytes[i])
		case pb.DataType_TYPE_BOOL:
			dst = strconv.AppendBool(dst, t.Raw[i] != 0)
		case pb.DataType_TYPE_INT8, pb.DataType_TYPE_INT16, pb.DataType_TYPE_INT32, pb.DataType_TYPE_INT64:
			u := readLE(t.Raw[i*size:], size)
			shift := 64 - 8*uint(size)
			dst = strconv.AppendInt(dst, int64(u<<shift)>>shift, 10) // sign-extend
		case pb.DataType_TYPE_UINT8, pb.DataType_TYPE_UINT16, pb.DataType_TYPE_UINT32, pb.DataType_TYPE_UINT64:
			dst = strconv.AppendUint(dst, readLE(t.Raw[i*size:], size), 10)
		default:
			return nil, status.Errorf(codes.InvalidArgument, "output %q is %s, which has no JSON form; request it as binary data (binary_data: true)", name, wireDatatype(t.Type))
		}
	}
	return append(dst, ']'), nil
}

func readLE(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	default:
		return binary.LittleEndian.Uint64(b)
	}
}

// appendJSONString appends s as a JSON string; bytes that are not UTF-8
// become U+FFFD, as encoding/json does.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// protoJSON writes m as Triton's HTTP endpoints write protobuf messages
// (model configuration, statistics): proto field names, every field
// present except unset messages, and 64-bit integers as JSON numbers, where protojson alone
// would quote them.
func protoJSON(m proto.Message) ([]byte, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(numberize(v, m.ProtoReflect().Descriptor()))
}

func numberize(v any, md protoreflect.MessageDescriptor) any {
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, val := range obj {
		if val == nil {
			delete(obj, k) // an unset message: Triton leaves it out
			continue
		}
		fd := md.Fields().ByName(protoreflect.Name(k))
		if fd == nil {
			continue
		}
		switch {
		case fd.IsMap():
			if m, ok := val.(map[string]any); ok {
				for mk, x := range m {
					m[mk] = numberizeValue(x, fd.MapValue())
				}
			}
		case fd.IsList():
			if l, ok := val.([]any); ok {
				for i, x := range l {
					l[i] = numberizeValue(x, fd)
				}
			}
		default:
			obj[k] = numberizeValue(val, fd)
		}
	}
	return obj
}

func numberizeValue(x any, fd protoreflect.FieldDescriptor) any {
	switch fd.Kind() {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if s, ok := x.(string); ok {
			return json.Number(s)
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return numberize(x, fd.Message())
	}
	return x
}
