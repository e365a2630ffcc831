package inputdata

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/client"
)

// Parse reads perf_analyzer's JSON input data; name is the file's, for
// messages. outputs are the model's, against which "validation_data" is
// read.
func Parse(name string, b []byte, inputs, outputs []Input) (*Data, error) {
	if err := checkInputs(inputs); err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) (*Data, error) {
		return nil, fmt.Errorf("input data %s: "+format, append([]any{name}, args...)...)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return fail("%s", jsonError(b, err))
	}
	d := &Data{Source: name}
	for k := range top {
		switch k {
		case "data", "validation_data":
		default:
			return fail("unknown field %q at the top (want data and, optionally, validation_data)", k)
		}
	}
	raw, ok := top["data"]
	if !ok {
		return fail(`no "data" field`)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || len(items) == 0 {
		return fail(`"data" must be a non-empty list of entries, or of streams (lists of entries)`)
	}
	streams := firstByte(items[0]) == '['
	if !streams {
		d.Streams = [][]Entry{make([]Entry, 0, len(items))}
	}
	for i, it := range items {
		if (firstByte(it) == '[') != streams {
			return fail(`data[%d]: "data" mixes entries (objects) and streams (lists); use one or the other`, i)
		}
		if !streams {
			e, err := parseEntry(it, inputs)
			if err != nil {
				return fail("data[%d]: %w", i, err)
			}
			d.Streams[0] = append(d.Streams[0], e)
			continue
		}
		var steps []json.RawMessage
		if err := json.Unmarshal(it, &steps); err != nil || len(steps) == 0 {
			return fail("data[%d]: a stream must be a non-empty list of entries", i)
		}
		stream := make([]Entry, 0, len(steps))
		for k, st := range steps {
			e, err := parseEntry(st, inputs)
			if err != nil {
				return fail("data[%d][%d] (stream %d, entry %d): %w", i, k, i, k, err)
			}
			stream = append(stream, e)
		}
		d.Streams = append(d.Streams, stream)
	}
	if v, ok := top["validation_data"]; ok {
		exp, err := parseValidation(v, d.Streams, streams, outputs)
		if err != nil {
			return fail("%w", err)
		}
		d.Expected = exp
	}
	return d, nil
}

// parseValidation reads "validation_data": as perf_analyzer, it must
// have the layout of "data" (as many entries, or streams of as many
// entries), each entry giving some of the model's outputs.
func parseValidation(b []byte, data [][]Entry, streams bool, outputs []Input) ([][][]Output, error) {
	for _, o := range outputs {
		if client.ElementSize(o.Datatype) < 0 {
			return nil, fmt.Errorf("output %q: datatype %q is not one of the protocol's", o.Name, o.Datatype)
		}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf(`"validation_data" must be a list laid out as "data"`)
	}
	entries := func(where string, steps []json.RawMessage) ([][]Output, error) {
		out := make([][]Output, len(steps))
		for k, st := range steps {
			e, err := parseExpected(st, outputs)
			if err != nil {
				return nil, fmt.Errorf("validation_data%s[%d]: %w", where, k, err)
			}
			out[k] = e
		}
		return out, nil
	}
	if !streams {
		if len(items) != len(data[0]) {
			return nil, fmt.Errorf(`"validation_data" has %d entries, "data" %d: they must align`, len(items), len(data[0]))
		}
		s, err := entries("", items)
		if err != nil {
			return nil, err
		}
		return [][][]Output{s}, nil
	}
	if len(items) != len(data) {
		return nil, fmt.Errorf(`"validation_data" has %d streams, "data" %d: they must align`, len(items), len(data))
	}
	out := make([][][]Output, len(items))
	for i, it := range items {
		var steps []json.RawMessage
		if firstByte(it) != '[' || json.Unmarshal(it, &steps) != nil || len(steps) != len(data[i]) {
			return nil, fmt.Errorf(`validation_data[%d]: stream %d of "data" has %d entries: give a list of as many`, i, i, len(data[i]))
		}
		s, err := entries(fmt.Sprintf("[%d]", i), steps)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// parseExpected reads one entry of validation data: some of the model's
// outputs, in the model's order.
func parseExpected(b []byte, outputs []Input) ([]Output, error) {
	names := make([]string, len(outputs))
	for i, o := range outputs {
		names[i] = o.Name
	}
	fields, err := objectOf(b, "output", names)
	if err != nil {
		return nil, err
	}
	var out []Output
	for _, o := range outputs {
		v, ok := fields[o.Name]
		if !ok {
			continue
		}
		t, err := parseTensor(v, o)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		out = append(out, Output{Name: o.Name, Tensor: t})
	}
	return out, nil
}

// objectOf reads an entry: a JSON object whose keys are among names (the
// model's inputs or outputs; kind says which, for errors).
func objectOf(b []byte, kind string, names []string) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if firstByte(b) != '{' || json.Unmarshal(b, &fields) != nil {
		return nil, fmt.Errorf("an entry must be an object mapping %s names to tensors", kind)
	}
	var unknown []string
	for k := range fields {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown %s %q (the model's %ss: %s)", kind, unknown[0], kind, strings.Join(names, ", "))
	}
	return fields, nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// jsonError adds the line to a syntax error.
func jsonError(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
		return fmt.Errorf("line %d: %w", line, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("the file must hold a JSON object with a \"data\" list: %w", err)
	}
	return err
}

// parseEntry reads one entry: every input of the model, nothing else.
func parseEntry(b []byte, inputs []Input) (Entry, error) {
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	fields, err := objectOf(b, "input", names)
	if err != nil {
		return nil, err
	}
	e := make(Entry, len(inputs))
	for i, in := range inputs {
		v, ok := fields[in.Name]
		if !ok {
			return nil, fmt.Errorf("input %q missing (every entry gives every input)", in.Name)
		}
		t, err := parseTensor(v, in)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		e[i] = t
	}
	return e, nil
}

// parseTensor reads one tensor: a list of values, {"content": list or
// {"b64": ...}, "shape": [...]}, or {"b64": ..., "shape": [...]}.
func parseTensor(b []byte, in Input) (Tensor, error) {
	var content json.RawMessage
	var shape []int64
	switch firstByte(b) {
	case '[':
		content = b
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return Tensor{}, err
		}
		for k := range obj {
			if k != "content" && k != "shape" && k != "b64" {
				return Tensor{}, fmt.Errorf("unknown field %q (want content, shape or b64)", k)
			}
		}
		if s, ok := obj["shape"]; ok {
			if err := json.Unmarshal(s, &shape); err != nil || shape == nil {
				return Tensor{}, fmt.Errorf(`"shape" must be a list of integers, got %s`, s)
			}
			if !fits(shape, in.Shape) {
				return Tensor{}, fmt.Errorf(`"shape" %v does not fit the model's %v`, shape, in.Shape)
			}
		}
		c, hasC := obj["content"]
		_, hasB := obj["b64"]
		switch {
		case hasC && hasB:
			return Tensor{}, fmt.Errorf(`give "content" or "b64", not both`)
		case hasC:
			content = c
		case hasB:
			content = b // {"b64": ...} itself
		default:
			return Tensor{}, fmt.Errorf(`no "content" (a tensor given as an object needs "content" or "b64")`)
		}
	default:
		return Tensor{}, fmt.Errorf("a tensor must be a list of values or an object with \"content\" (and \"shape\") or \"b64\", got %.40s", b)
	}

	var raw []byte
	switch firstByte(content) {
	case '[':
		dec := json.NewDecoder(bytes.NewReader(content))
		dec.UseNumber()
		var vals []any
		if err := dec.Decode(&vals); err != nil {
			return Tensor{}, err
		}
		var flat []any
		flat = flatten(flat, vals)
		var err error
		if raw, err = encodeValues(in.Datatype, flat); err != nil {
			return Tensor{}, err
		}
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(content, &obj); err != nil {
			return Tensor{}, err
		}
		var s string
		v, ok := obj["b64"]
		if !ok || json.Unmarshal(v, &s) != nil {
			return Tensor{}, fmt.Errorf(`"b64" must be a string of base64`)
		}
		var err error
		if raw, err = base64.StdEncoding.DecodeString(s); err != nil {
			return Tensor{}, fmt.Errorf(`"b64": %w`, err)
		}
	default:
		return Tensor{}, fmt.Errorf(`"content" must be a list of values or {"b64": ...}`)
	}
	if shape == nil {
		var err error
		if shape, err = shapeOf(in, raw); err != nil {
			return Tensor{}, err
		}
	}
	if err := checkRaw(in, shape, raw); err != nil {
		return Tensor{}, err
	}
	return Tensor{Shape: shape, Raw: raw}, nil
}

// flatten appends the leaves of nested lists in row-major order.
func flatten(dst, vals []any) []any {
	for _, v := range vals {
		if l, ok := v.([]any); ok {
			dst = flatten(dst, l)
		} else {
			dst = append(dst, v)
		}
	}
	return dst
}

// encodeValues turns JSON values into a tensor's raw form: strings for
// BYTES, true/false for BOOL, numbers in the type's range otherwise.
func encodeValues(dt string, vals []any) ([]byte, error) {
	if dt == "BYTES" {
		elems := make([][]byte, len(vals))
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("element %d: %s is not a string (BYTES elements are JSON strings; use b64 for binary data)", i, show(v))
			}
			elems[i] = []byte(s)
		}
		return client.EncodeBytes(elems), nil
	}
	size := client.ElementSize(dt)
	out := make([]byte, 0, len(vals)*size)
	le := binary.LittleEndian
	for i, v := range vals {
		if dt == "BOOL" {
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("element %d: %s is not a BOOL (true or false)", i, show(v))
			}
			if b {
				out = append(out, 1)
			} else {
				out = append(out, 0)
			}
			continue
		}
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("element %d: %s is not a number (input is %s)", i, show(v), dt)
		}
		bad := func() ([]byte, error) {
			return nil, fmt.Errorf("element %d: %s is not a %s", i, n, dt)
		}
		switch dt {
		case "INT8", "INT16", "INT32", "INT64":
			x, err := strconv.ParseInt(string(n), 10, size*8)
			if err != nil {
				return bad()
			}
			for b := 0; b < size; b++ {
				out = append(out, byte(uint64(x)>>(8*b)))
			}
		case "UINT8", "UINT16", "UINT32", "UINT64":
			x, err := strconv.ParseUint(string(n), 10, size*8)
			if err != nil {
				return bad()
			}
			for b := 0; b < size; b++ {
				out = append(out, byte(x>>(8*b)))
			}
		case "FP64":
			x, err := strconv.ParseFloat(string(n), 64)
			if err != nil {
				return bad()
			}
			out = le.AppendUint64(out, math.Float64bits(x))
		case "FP32", "FP16", "BF16":
			x, err := strconv.ParseFloat(string(n), 32)
			if err != nil || (dt == "FP16" && math.Abs(x) > 65504) {
				return bad()
			}
			f := float32(x)
			switch dt {
			case "FP32":
				out = le.AppendUint32(out, math.Float32bits(f))
			case "FP16":
				out = le.AppendUint16(out, client.Float32ToHalf(f))
			default:
				out = le.AppendUint16(out, bf16(f))
			}
		}
	}
	return out, nil
}

// bf16 rounds a float32 to bfloat16, to nearest even.
func bf16(f float32) uint16 {
	u := math.Float32bits(f)
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

func show(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
