package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Raw → JSON → raw gives back the same bytes for every datatype, and the
// JSON is what encoding/json reads as the same numbers.
func TestJSONTensorRoundTrip(t *testing.T) {
	le := binary.LittleEndian
	cases := map[string][]byte{
		"BOOL":   {1, 0, 1},
		"INT8":   {0x80, 0x7f, 0},
		"UINT8":  {0, 255},
		"INT16":  le.AppendUint16(le.AppendUint16(nil, 0x8000), 7),
		"UINT16": le.AppendUint16(nil, 65535),
		"INT32":  le.AppendUint32(le.AppendUint32(nil, uint32(0x80000000)), 42),
		"UINT32": le.AppendUint32(nil, math.MaxUint32),
		"INT64":  le.AppendUint64(nil, 1<<63),
		"UINT64": le.AppendUint64(nil, math.MaxUint64),
		"FP16":   le.AppendUint16(le.AppendUint16(le.AppendUint16(nil, 0x3c00), 0xc000), 0x0001),
		"BF16":   le.AppendUint16(le.AppendUint16(nil, 0x3f80), 0xc0a0),
		"FP32":   le.AppendUint32(le.AppendUint32(nil, math.Float32bits(0.1)), math.Float32bits(-3.5e-20)),
		"FP64":   le.AppendUint64(nil, math.Float64bits(math.Pi)),
		"BYTES":  EncodeBytes([][]byte{[]byte("a"), {}, []byte(`"q\u00e9"`)}),
	}
	for dt, raw := range cases {
		js, err := appendJSONTensor(nil, dt, raw)
		if err != nil {
			t.Errorf("%s: %v", dt, err)
			continue
		}
		var any []any
		if err := json.Unmarshal(js, &any); err != nil {
			t.Errorf("%s: %s is not JSON: %v", dt, js, err)
		}
		back, err := rawFromJSON(dt, js)
		if err != nil {
			t.Errorf("%s: %s: %v", dt, js, err)
			continue
		}
		if !bytes.Equal(back, raw) {
			t.Errorf("%s: %x → %s → %x", dt, raw, js, back)
		}
	}
	if _, err := appendJSONTensor(nil, "FP32", le.AppendUint32(nil, math.Float32bits(float32(math.NaN())))); err == nil || !strings.Contains(err.Error(), "binary encoding") {
		t.Errorf("NaN: %v", err)
	}
	if _, err := appendJSONTensor(nil, "BYTES", EncodeBytes([][]byte{{0xff}})); err == nil {
		t.Error("non-UTF-8 BYTES went into JSON")
	}
	if got, err := rawFromJSON("INT32", json.RawMessage(`[[1,2],[3,4]]`)); err != nil || len(got) != 16 || le.Uint32(got[12:]) != 4 {
		t.Errorf("nested array: %x %v", got, err)
	}
	if _, err := rawFromJSON("INT8", json.RawMessage(`[300]`)); err == nil {
		t.Error("300 accepted as INT8")
	}
}

// Half precision: every finite half converts to float32 and back to
// itself; rounding goes to the nearest even.
func TestHalf(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN payloads are not kept
		}
		if got := Float32ToHalf(HalfToFloat32(uint16(h))); got != uint16(h) {
			t.Fatalf("half %#04x → %g → %#04x", h, HalfToFloat32(uint16(h)), got)
		}
	}
	if got := Float32ToHalf(1 + 1.0/2048); got != 0x3c00 { // halfway: to even
		t.Errorf("1+2^-11 → %#04x, want 0x3c00", got)
	}
	if got := Float32ToHalf(1e6); got != 0x7c00 {
		t.Errorf("1e6 → %#04x, want +Inf", got)
	}
}

func TestDecodeBytesErrors(t *testing.T) {
	if _, err := DecodeBytes([]byte{5, 0, 0, 0, 'a'}); err == nil || !strings.Contains(err.Error(), "length 5") {
		t.Errorf("overlong: %v", err)
	}
	if _, err := DecodeBytes([]byte{1, 0}); err == nil || !strings.Contains(err.Error(), "too few") {
		t.Errorf("truncated: %v", err)
	}
}

// The bytes NewCall sends for the binary extension and for JSON, read by
// a bare HTTP server: the protocol's layout, nothing else.
func TestRequestBytes(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.URL.Path+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("Inference-Header-Content-Length")+" "+string(b))
		w.WriteHeader(200)
	}))
	defer srv.Close()
	req := &pb.ModelInferRequest{ModelName: "m", ModelVersion: "2", Id: "7",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "INT32", Shape: []int64{1, 2}}},
		RawInputContents: [][]byte{{1, 0, 0, 0, 2, 0, 0, 0}},
		Outputs:          []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "y"}},
	}
	for _, enc := range []string{EncodingBinary, EncodingJSON} {
		c, err := Connect(srv.URL+"/prefix", Settings{HTTPEncoding: enc})
		if err != nil {
			t.Fatal(err)
		}
		call, err := c.NewCall(req)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := call.Do(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}
	head := `{"id":"7","parameters":{"binary_data_output":true},"inputs":[{"name":"x","shape":[1,2],"datatype":"INT32","parameters":{"binary_data_size":8}}],"outputs":[{"name":"y","parameters":{"binary_data":true}}]}`
	want := []string{
		"/prefix/v2/models/m/versions/2/infer application/octet-stream " + strconv.Itoa(len(head)) + " " + head + "\x01\x00\x00\x00\x02\x00\x00\x00",
		"",
		`/prefix/v2/models/m/versions/2/infer application/json  {"id":"7","inputs":[{"name":"x","shape":[1,2],"datatype":"INT32","data":[1,2]}],"outputs":[{"name":"y"}]}`,
		"",
	}
	want[1], want[3] = want[0], want[2]
	if len(got) != 4 {
		t.Fatalf("got %d requests", len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}
