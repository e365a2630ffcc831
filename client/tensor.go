package client

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// Tensors on the wire: raw is Triton's binary form (little-endian,
// row-major; BYTES as 4-byte little-endian lengths each followed by the
// element), the same bytes gRPC's raw_input_contents and HTTP's binary
// tensor extension carry. The KServe v2 JSON form is a flat array of
// numbers, booleans (BOOL) or strings (BYTES).

// ElementSize is the size in bytes of one element of a fixed-size
// datatype, 0 for BYTES, and -1 for a datatype the protocol does not have.
func ElementSize(datatype string) int {
	switch datatype {
	case "BOOL", "INT8", "UINT8":
		return 1
	case "INT16", "UINT16", "FP16", "BF16":
		return 2
	case "INT32", "UINT32", "FP32":
		return 4
	case "INT64", "UINT64", "FP64":
		return 8
	case "BYTES":
		return 0
	}
	return -1
}

// EncodeBytes encodes BYTES elements in Triton's raw form.
func EncodeBytes(elems [][]byte) []byte {
	n := 0
	for _, e := range elems {
		n += 4 + len(e)
	}
	out := make([]byte, 0, n)
	for _, e := range elems {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(e)))
		out = append(out, e...)
	}
	return out
}

// DecodeBytes splits Triton's raw BYTES form into its elements (views of
// b), or says where it is malformed.
func DecodeBytes(b []byte) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(b); {
		if len(b)-i < 4 {
			return nil, fmt.Errorf("BYTES element %d: %d bytes left, too few for its 4-byte length", len(out), len(b)-i)
		}
		n := int(binary.LittleEndian.Uint32(b[i:]))
		i += 4
		if n > len(b)-i {
			return nil, fmt.Errorf("BYTES element %d: length %d but %d bytes left", len(out), n, len(b)-i)
		}
		out = append(out, b[i:i+n:i+n])
		i += n
	}
	return out, nil
}

// appendJSONTensor appends the JSON array of a raw tensor's elements.
func appendJSONTensor(dst []byte, datatype string, raw []byte) ([]byte, error) {
	dst = append(dst, '[')
	if datatype == "BYTES" {
		elems, err := DecodeBytes(raw)
		if err != nil {
			return nil, err
		}
		for i, e := range elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			if !utf8.Valid(e) {
				return nil, fmt.Errorf("BYTES element %d is not UTF-8 text, which JSON cannot carry: use the binary encoding", i)
			}
			dst = appendJSONString(dst, string(e))
		}
		return append(dst, ']'), nil
	}
	size := ElementSize(datatype)
	if size <= 0 {
		return nil, fmt.Errorf("datatype %q has no JSON form", datatype)
	}
	if len(raw)%size != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of %s elements", len(raw), datatype)
	}
	for i := 0; i < len(raw); i += size {
		if i > 0 {
			dst = append(dst, ',')
		}
		b := raw[i:]
		switch datatype {
		case "BOOL":
			dst = strconv.AppendBool(dst, b[0] != 0)
		case "INT8":
			dst = strconv.AppendInt(dst, int64(int8(b[0])), 10)
		case "UINT8":
			dst = strconv.AppendUint(dst, uint64(b[0]), 10)
		case "INT16":
			dst = strconv.AppendInt(dst, int64(int16(binary.LittleEndian.Uint16(b))), 10)
		case "UINT16":
			dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint16(b)), 10)
		case "INT32":
			dst = strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(b))), 10)
		case "UINT32":
			dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b)), 10)
		case "INT64":
			dst = strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(b)), 10)
		case "UINT64":
			dst = strconv.AppendUint(dst, binary.LittleEndian.Uint64(b), 10)
		default:
			var f float64
			bits := 64
			switch datatype {
			case "FP16":
				f, bits = float64(HalfToFloat32(binary.LittleEndian.Uint16(b))), 32
			case "BF16":
				f, bits = float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b))<<16)), 32
			case "FP32":
				f, bits = float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32
			case "FP64":
				f = math.Float64frombits(binary.LittleEndian.Uint64(b))
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s element %d is %v, which JSON cannot carry: use the binary encoding", datatype, i/size, f)
			}
			dst = strconv.AppendFloat(dst, f, 'g', -1, bits)
		}
	}
	return append(dst, ']'), nil
}

// rawFromJSON converts a JSON tensor (a flat or nested array) to the raw
// form of datatype.
func rawFromJSON(datatype string, data json.RawMessage) ([]byte, error) {
	var out []byte
	size := ElementSize(datatype)
	if size < 0 {
		return nil, fmt.Errorf("unknown datatype %q", datatype)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s data: %w", datatype, err)
		}
		switch v := tok.(type) {
		case json.Delim:
			continue
		case string:
			if datatype != "BYTES" {
				return nil, fmt.Errorf("%s element %d is a string", datatype, n)
			}
			out = binary.LittleEndian.AppendUint32(out, uint32(len(v)))
			out = append(out, v...)
		case bool:
			if datatype != "BOOL" {
				return nil, fmt.Errorf("%s element %d is a boolean", datatype, n)
			}
			b := byte(0)
			if v {
				b = 1
			}
			out = append(out, b)
		case json.Number:
			if out, err = appendNumber(out, datatype, string(v)); err != nil {
				return nil, fmt.Errorf("%s element %d: %w", datatype, n, err)
			}
		default:
			return nil, fmt.Errorf("%s element %d is %v", datatype, n, tok)
		}
		n++
	}
}

func appendNumber(out []byte, datatype, s string) ([]byte, error) {
	switch datatype {
	case "INT8", "INT16", "INT32", "INT64":
		bits := 8 * ElementSize(datatype)
		v, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, err
		}
		return appendLE(out, bits/8, uint64(v)), nil
	case "UINT8", "UINT16", "UINT32", "UINT64", "BOOL":
		bits := 8 * ElementSize(datatype)
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return nil, err
		}
		return appendLE(out, bits/8, v), nil
	case "FP16", "BF16", "FP32":
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return nil, err
		}
		switch datatype {
		case "FP16":
			return binary.LittleEndian.AppendUint16(out, Float32ToHalf(float32(f))), nil
		case "BF16":
			return binary.LittleEndian.AppendUint16(out, float32ToBF16(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(f))), nil
	case "FP64":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		return binary.LittleEndian.AppendUint64(out, math.Float64bits(f)), nil
	}
	return nil, fmt.Errorf("a number is not a %s element", datatype)
}

func appendLE(out []byte, size int, v uint64) []byte {
	for i := 0; i < size; i++ {
		out = append(out, byte(v>>(8*i)))
	}
	return out
}

// HalfToFloat32 converts an IEEE 754 half-precision value.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		frac &= 0x3ff
		return math.Float32frombits(sign | e<<23 | frac<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// Float32ToHalf converts to IEEE 754 half precision, rounding to nearest
// even; out-of-range values become infinities.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	if exp == 0xff {
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e <= 0:
		if e < -10 {
			return sign
		}
		m := frac | 0x800000
		shift := uint32(14 - e)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || rem == mid && half&1 == 1 {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && half&1 == 1 {
		half++ // may carry into the exponent, which is right
	}
	return sign | uint16(half)
}

func float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// appendJSONString appends s as a JSON string. s is UTF-8 (checked by
// the callers where it comes from data); quotes, backslashes and control
// characters are escaped.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
