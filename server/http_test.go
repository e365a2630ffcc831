package server_test

// Conformance of the HTTP/REST front-end with the published protocol:
// KServe v2 (kserve docs/predict-api/v2/required_api.md) and Triton's HTTP
// extensions (server docs/protocol/extension_binary_data.md,
// extension_model_configuration.md, extension_statistics.md,
// extension_model_repository.md). Each test says which part it checks.
// The oracles are the documents' shapes and status codes, arithmetic done
// here, and the gRPC front-end of the same server.

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
	"github.com/iaasbench/iaasbench/server"
)

// startHTTP runs a server with its HTTP endpoint on a free loopback port.
func startHTTP(t *testing.T, opts server.Options) (*server.Server, *client.Client, string) {
	t.Helper()
	opts.HTTPAddr = "127.0.0.1:0"
	srv, c := start(t, opts)
	if srv.HTTPURL() == "" {
		t.Fatal("HTTP endpoint not started")
	}
	return srv, c, srv.HTTPURL()
}

var httpc = &http.Client{Timeout: 20 * time.Second}

type httpResult struct {
	code   int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, body []byte, hdr map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{resp.StatusCode, resp.Header, b}
}

// jsonOK checks a 200 with a JSON body and decodes it.
func (r httpResult) jsonOK(t *testing.T, what string, v any) {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("%s: status %d, body %s", what, r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: body %s is not the expected JSON: %v", what, r.body, err)
	}
}

// wantError checks the protocol's error response: the status code and a
// body that is exactly {"error": $string}, whose message holds each of
// msgs.
func (r httpResult) wantError(t *testing.T, what string, code int, msgs ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: status %d, want %d (body %s)", what, r.code, code, r.body)
		return
	}
	var obj map[string]any
	if err := json.Unmarshal(r.body, &obj); err != nil {
		t.Errorf("%s: error body %q is not JSON: %v", what, r.body, err)
		return
	}
	msg, ok := obj["error"].(string)
	if !ok || len(obj) != 1 || msg == "" {
		t.Errorf("%s: error body %s, want {\"error\": \"...\"}", what, r.body)
		return
	}
	for _, m := range msgs {
		if !strings.Contains(msg, m) {
			t.Errorf("%s: error %q lacks %q", what, msg, m)
		}
	}
}

func seq(n int, f func(i int) int32) []int32 {
	v := make([]int32, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

func int32LE(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

func bytesLE(els ...string) []byte {
	var b []byte
	for _, e := range els {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

// binaryBody is a request body in Triton's binary tensor format: the JSON
// header, then the tensors' bytes; it returns the header length too.
func binaryBody(t *testing.T, header any, blobs ...[]byte) ([]byte, map[string]string) {
	t.Helper()
	js, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte{}, js...)
	for _, b := range blobs {
		body = append(body, b...)
	}
	return body, map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(js)), "Content-Type": "application/octet-stream"}
}

// splitBinaryResponse parses a response with binary outputs.
func splitBinaryResponse(t *testing.T, r httpResult) (map[string]any, []byte) {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("binary response Content-Type %q, want application/octet-stream", ct)
	}
	n, err := strconv.Atoi(r.header.Get("Inference-Header-Content-Length"))
	if err != nil || n <= 0 || n > len(r.body) {
		t.Fatalf("Inference-Header-Content-Length %q for a %d-byte body", r.header.Get("Inference-Header-Content-Length"), len(r.body))
	}
	var hdr map[string]any
	if err := json.Unmarshal(r.body[:n], &hdr); err != nil {
		t.Fatalf("JSON part %q: %v", r.body[:n], err)
	}
	return hdr, r.body[n:]
}

func outputsOf(t *testing.T, resp map[string]any) []map[string]any {
	t.Helper()
	raw, ok := resp["outputs"].([]any)
	if !ok {
		t.Fatalf("response has no outputs array: %v", resp)
	}
	var out []map[string]any
	for _, o := range raw {
		out = append(out, o.(map[string]any))
	}
	return out
}

func numbers(t *testing.T, v any) []float64 {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("data %v is not an array", v)
	}
	var out []float64
	for _, x := range arr {
		out = append(out, x.(float64))
	}
	return out
}

// KServe v2 "Health" and "Server Metadata": GET v2/health/live|ready answer
// 200 with an empty body; GET v2 answers name, version, extensions.
func TestHTTPServerHealthAndMetadata(t *testing.T) {
	_, _, url := startHTTP(t, server.Options{Version: "t1"})
	for _, p := range []string{"/v2/health/live", "/v2/health/ready"} {
		r := do(t, "GET", url+p, nil, nil)
		if r.code != http.StatusOK || len(r.body) != 0 {
			t.Errorf("GET %s: %d %q, want 200 and an empty body", p, r.code, r.body)
		}
	}
	var md struct {
		Name       *string  `json:"name"`
		Version    *string  `json:"version"`
		Extensions []string `json:"extensions"`
	}
	do(t, "GET", url+"/v2", nil, nil).jsonOK(t, "server metadata", &md)
	if md.Name == nil || *md.Name != "iaasbench" || md.Version == nil || *md.Version != "t1" {
		t.Errorf("server metadata name/version = %v/%v", md.Name, md.Version)
	}
	for _, ext := range []string{"binary_tensor_data", "model_configuration", "model_repository", "statistics"} {
		if !contains(strings.Join(md.Extensions, " "), ext) {
			t.Errorf("extensions %v lack %s", md.Extensions, ext)
		}
	}
	do(t, "POST", url+"/v2/health/live", nil, nil).wantError(t, "POST health", http.StatusMethodNotAllowed)
	do(t, "GET", url+"/v2/nonsense", nil, nil).wantError(t, "unknown path", http.StatusNotFound)
	do(t, "GET", url+"/v1/models", nil, nil).wantError(t, "v1 path", http.StatusNotFound)
}

// KServe v2 "Model Metadata" and "Model Ready".
func TestHTTPModelMetadataAndReady(t *testing.T) {
	_, c, url := startHTTP(t, server.Options{})
	type tensorMeta struct {
		Name     string  `json:"name"`
		Datatype string  `json:"datatype"`
		Shape    []int64 `json:"shape"`
	}
	var md struct {
		Name     string       `json:"name"`
		Versions []string     `json:"versions"`
		Platform *string      `json:"platform"`
		Inputs   []tensorMeta `json:"inputs"`
		Outputs  []tensorMeta `json:"outputs"`
	}
	for _, p := range []string{"/v2/models/simple", "/v2/models/simple/versions/1"} {
		do(t, "GET", url+p, nil, nil).jsonOK(t, p, &md)
		if md.Name != "simple" || len(md.Versions) != 1 || md.Versions[0] != "1" || md.Platform == nil {
			t.Fatalf("%s: %+v", p, md)
		}
		want := []tensorMeta{{"INPUT0", "INT32", []int64{-1, 16}}, {"INPUT1", "INT32", []int64{-1, 16}}}
		if fmt.Sprint(md.Inputs) != fmt.Sprint(want) {
			t.Errorf("%s inputs %v, want %v", p, md.Inputs, want)
		}
		if len(md.Outputs) != 2 || md.Outputs[0].Name != "OUTPUT0" || md.Outputs[1].Datatype != "INT32" {
			t.Errorf("%s outputs %v", p, md.Outputs)
		}
	}
	// BYTES is the wire name of TYPE_STRING; the gRPC front-end agrees.
	do(t, "GET", url+"/v2/models/simple_string", nil, nil).jsonOK(t, "simple_string metadata", &md)
	gmd, err := c.ModelMetadata(ctxT(t), "simple_string", "")
	if err != nil {
		t.Fatal(err)
	}
	if md.Inputs[0].Datatype != "BYTES" || gmd.Inputs[0].Datatype != "BYTES" {
		t.Errorf("simple_string input datatype: HTTP %s, gRPC %s, want BYTES", md.Inputs[0].Datatype, gmd.Inputs[0].Datatype)
	}

	do(t, "GET", url+"/v2/models/nope", nil, nil).wantError(t, "unknown model metadata", http.StatusNotFound, `"nope"`)
	do(t, "GET", url+"/v2/models/simple/versions/7", nil, nil).wantError(t, "unknown version", http.StatusNotFound, `version "7"`)
	do(t, "GET", url+"/v2/models/simple/versions/x", nil, nil).wantError(t, "bad version", http.StatusBadRequest, `"x"`)

	if r := do(t, "GET", url+"/v2/models/simple/ready", nil, nil); r.code != http.StatusOK {
		t.Errorf("model ready: %d %s", r.code, r.body)
	}
	if r := do(t, "GET", url+"/v2/models/simple/versions/1/ready", nil, nil); r.code != http.StatusOK {
		t.Errorf("model version ready: %d %s", r.code, r.body)
	}
	// 4xx means false (KServe); Triton answers 400 with a reason.
	do(t, "GET", url+"/v2/models/nope/ready", nil, nil).wantError(t, "unknown model ready", http.StatusBadRequest, `"nope"`)
}

// Triton's model configuration extension: GET .../config is the JSON form
// of ModelConfig; parsed back it equals what gRPC's ModelConfig returns.
func TestHTTPModelConfig(t *testing.T) {
	_, c, url := startHTTP(t, server.Options{})
	r := do(t, "GET", url+"/v2/models/simple/config", nil, nil)
	var raw map[string]any
	r.jsonOK(t, "config", &raw)
	if raw["name"] != "simple" || raw["max_batch_size"] != float64(8) {
		t.Errorf("config name/max_batch_size = %v/%v (want proto field names, numbers)", raw["name"], raw["max_batch_size"])
	}
	in0 := raw["input"].([]any)[0].(map[string]any)
	if fmt.Sprint(in0["dims"]) != "[16]" || in0["data_type"] != "TYPE_INT32" {
		t.Errorf("input[0] = %v; want dims as numbers [16], data_type TYPE_INT32", in0)
	}
	var got pb.ModelConfig
	if err := protojson.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("config JSON is not a ModelConfig: %v", err)
	}
	want, err := c.ModelConfig(ctxT(t), "simple", "")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, want) {
		t.Errorf("HTTP config %v\n!= gRPC config %v", &got, want)
	}
	do(t, "GET", url+"/v2/models/nope/config", nil, nil).wantError(t, "unknown model config", http.StatusNotFound)
}

// KServe v2 "Inference" with JSON tensors, on Triton's simple model:
// OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1.
func TestHTTPInferJSON(t *testing.T) {
	_, _, url := startHTTP(t, server.Options{})
	a := seq(32, func(i int) int32 { return int32(i * 7) })
	b := seq(32, func(i int) int32 { return int32(100 - i*i) })
	// Nested arrays are as good as flat ones ("Tensor Data").
	nested := [][]int32{a[:16], a[16:]}
	req := map[string]any{
		"id": "req-42",
		"inputs": []any{
			map[string]any{"name": "INPUT0", "shape": []int{2, 16}, "datatype": "INT32", "data": nested},
			map[string]any{"name": "INPUT1", "shape": []int{2, 16}, "datatype": "INT32", "data": b},
		},
	}
	body, _ := json.Marshal(req)
	var resp map[string]any
	do(t, "POST", url+"/v2/models/simple/infer", body, map[string]string{"Content-Type": "application/json"}).jsonOK(t, "infer", &resp)
	if resp["id"] != "req-42" || resp["model_name"] != "simple" || resp["model_version"] != "1" {
		t.Errorf("response id/model_name/model_version = %v/%v/%v", resp["id"], resp["model_name"], resp["model_version"])
	}
	outs := outputsOf(t, resp)
	if len(outs) != 2 || outs[0]["name"] != "OUTPUT0" || outs[1]["name"] != "OUTPUT1" {
		t.Fatalf("outputs %v: want all outputs in config order when none are requested", outs)
	}
	for k, o := range outs {
		if o["datatype"] != "INT32" || fmt.Sprint(o["shape"]) != "[2 16]" {
			t.Errorf("output %v: datatype %v shape %v", o["name"], o["datatype"], o["shape"])
		}
		got := numbers(t, o["data"])
		for i := range a {
			want := a[i] + b[i]
			if k == 1 {
				want = a[i] - b[i]
			}
			if got[i] != float64(want) {
				t.Fatalf("%v[%d] = %v, want %d", o["name"], i, got[i], want)
			}
		}
	}
	// Without an id the response carries none; one requested output.
	req = map[string]any{"inputs": req["inputs"], "outputs": []any{map[string]any{"name": "OUTPUT1"}}}
	body, _ = json.Marshal(req)
	resp = nil
	do(t, "POST", url+"/v2/models/simple/versions/1/infer", body, nil).jsonOK(t, "infer one output", &resp)
	if _, has := resp["id"]; has {
		t.Errorf("response has an id though the request had none: %v", resp["id"])
	}
	if outs := outputsOf(t, resp); len(outs) != 1 || outs[0]["name"] != "OUTPUT1" {
		t.Errorf("requested OUTPUT1 only, got %v", outs)
	}

	// FP32 through the MLP agrees with the gRPC front-end.
	x := ramp(2*64, 1)
	body, _ = json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "x", "shape": []int{2, 64}, "datatype": "FP32", "data": x}}})
	resp = nil
	do(t, "POST", url+"/v2/models/mlp/infer", body, nil).jsonOK(t, "mlp infer", &resp)
	got := numbers(t, outputsOf(t, resp)[0]["data"])
	mlp := naiveDense(mlpNet(), x, 2)
	for i := range mlp {
		if d := got[i] - mlp[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("mlp y[%d] = %g, want %g", i, got[i], mlp[i])
		}
	}
}

// Triton's binary tensor data extension: inputs with binary_data_size
// after the JSON header (Inference-Header-Content-Length), outputs with
// binary_data, binary_data_output for all.
func TestHTTPInferBinary(t *testing.T) {
	_, _, url := startHTTP(t, server.Options{})
	a := seq(16, func(i int) int32 { return int32(i) - 5 })
	b := seq(16, func(i int) int32 { return 3 * int32(i) })
	sum, diff := make([]int32, 16), make([]int32, 16)
	for i := range a {
		sum[i], diff[i] = a[i]+b[i], a[i]-b[i]
	}
	// INPUT0 binary, INPUT1 JSON; OUTPUT0 binary, OUTPUT1 JSON.
	header := map[string]any{
		"inputs": []any{
			map[string]any{"name": "INPUT0", "shape": []int{1, 16}, "datatype": "INT32", "parameters": map[string]any{"binary_data_size": 64}},
			map[string]any{"name": "INPUT1", "shape": []int{1, 16}, "datatype": "INT32", "data": b},
		},
		"outputs": []any{
			map[string]any{"name": "OUTPUT0", "parameters": map[string]any{"binary_data": true}},
			map[string]any{"name": "OUTPUT1", "parameters": map[string]any{"binary_data": false}},
		},
	}
	body, hdr := binaryBody(t, header, int32LE(a))
	resp, blob := splitBinaryResponse(t, do(t, "POST", url+"/v2/models/simple/infer", body, hdr))
	outs := outputsOf(t, resp)
	p, _ := outs[0]["parameters"].(map[string]any)
	if p["binary_data_size"] != float64(64) || outs[0]["data"] != nil {
		t.Errorf("OUTPUT0 %v: want parameters.binary_data_size 64 and no data", outs[0])
	}
	if !bytes.Equal(blob, int32LE(sum)) {
		t.Errorf("OUTPUT0 binary %v, want %v", blob, int32LE(sum))
	}
	if got := numbers(t, outs[1]["data"]); fmt.Sprint(got) != fmt.Sprint(int32sAsFloats(diff)) {
		t.Errorf("OUTPUT1 JSON %v, want %v", got, diff)
	}

	// Both inputs binary, binary_data_output for every output: data
	// follows in output order.
	header = map[string]any{
		"parameters": map[string]any{"binary_data_output": true},
		"inputs": []any{
			map[string]any{"name": "INPUT0", "shape": []int{1, 16}, "datatype": "INT32", "parameters": map[string]any{"binary_data_size": 64}},
			map[string]any{"name": "INPUT1", "shape": []int{1, 16}, "datatype": "INT32", "parameters": map[string]any{"binary_data_size": 64}},
		},
	}
	body, hdr = binaryBody(t, header, int32LE(a), int32LE(b))
	resp, blob = splitBinaryResponse(t, do(t, "POST", url+"/v2/models/simple/infer", body, hdr))
	if len(outputsOf(t, resp)) != 2 || !bytes.Equal(blob, append(int32LE(sum), int32LE(diff)...)) {
		t.Errorf("binary_data_output: outputs %v, blob of %d bytes, want OUTPUT0 then OUTPUT1 (128 bytes)", outputsOf(t, resp), len(blob))
	}

	// A listed output without binary_data follows binary_data_output;
	// binary_data false overrides it.
	header["outputs"] = []any{map[string]any{"name": "OUTPUT1"}, map[string]any{"name": "OUTPUT0", "parameters": map[string]any{"binary_data": false}}}
	body, hdr = binaryBody(t, header, int32LE(a), int32LE(b))
	resp, blob = splitBinaryResponse(t, do(t, "POST", url+"/v2/models/simple/infer", body, hdr))
	outs = outputsOf(t, resp)
	if outs[0]["name"] != "OUTPUT1" || !bytes.Equal(blob, int32LE(diff)) || outs[1]["data"] == nil {
		t.Errorf("override: outputs %v, blob %v", outs, blob)
	}
}

func int32sAsFloats(v []int32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// BYTES over HTTP: JSON strings (with escapes and non-ASCII text), binary
// elements with 4-byte length prefixes, on simple_identity and
// simple_string.
func TestHTTPBytes(t *testing.T) {
	_, _, url := startHTTP(t, server.Options{})
	els := []string{"plain", "quote \" and \\ backslash", "tab\tnewline\n", "héllo wörld ✓", ""}
	body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "INPUT0", "shape": []int{1, len(els)}, "datatype": "BYTES", "data": els}}})
	var resp map[string]any
	do(t, "POST", url+"/v2/models/simple_identity/infer", body, nil).jsonOK(t, "identity JSON", &resp)
	o := outputsOf(t, resp)[0]
	if o["datatype"] != "BYTES" || fmt.Sprint(o["data"]) != fmt.Sprint(els) {
		t.Errorf("identity JSON: %v %q, want BYTES %q", o["datatype"], o["data"], els)
	}

	// Binary in, binary out: the same bytes, arbitrary (non-UTF-8) ones too.
	bin := bytesLE("\x00\xff\xfe", "abc", "")
	hb, hdr := binaryBody(t, map[string]any{
		"inputs":  []any{map[string]any{"name": "INPUT0", "shape": []int{1, 3}, "datatype": "BYTES", "parameters": map[string]any{"binary_data_size": len(bin)}}},
		"outputs": []any{map[string]any{"name": "OUTPUT0", "parameters": map[string]any{"binary_data": true}}},
	}, bin)
	_, blob := splitBinaryResponse(t, do(t, "POST", url+"/v2/models/simple_identity/infer", hb, hdr))
	if !bytes.Equal(blob, bin) {
		t.Errorf("identity binary: %q, want %q", blob, bin)
	}

	// simple_string: decimal strings in, their sum and difference out.
	x := make([]string, 16)
	y := make([]string, 16)
	for i := range x {
		x[i], y[i] = strconv.Itoa(i*11-3), strconv.Itoa(2*i+1)
	}
	body, _ = json.Marshal(map[string]any{"inputs": []any{
		map[string]any{"name": "INPUT0", "shape": []int{1, 16}, "datatype": "BYTES", "data": x},
		map[string]any{"name": "INPUT1", "shape": []int{1, 16}, "datatype": "BYTES", "data": y},
	}})
	resp = nil
	do(t, "POST", url+"/v2/models/simple_string/infer", body, nil).jsonOK(t, "simple_string", &resp)
	outs := outputsOf(t, resp)
	for i := range x {
		want0, want1 := strconv.Itoa((i*11-3)+(2*i+1)), strconv.Itoa((i*11-3)-(2*i+1))
		if outs[0]["data"].([]any)[i] != want0 || outs[1]["data"].([]any)[i] != want1 {
			t.Fatalf("simple_string element %d: %v, %v; want %s, %s", i, outs[0]["data"].([]any)[i], outs[1]["data"].([]any)[i], want0, want1)
		}
	}
	// A malformed element is the request's fault: 400, naming it.
	y[3] = "three"
	body, _ = json.Marshal(map[string]any{"inputs": []any{
		map[string]any{"name": "INPUT0", "shape": []int{1, 16}, "datatype": "BYTES", "data": x},
		map[string]any{"name": "INPUT1", "shape": []int{1, 16}, "datatype": "BYTES", "data": y},
	}})
	do(t, "POST", url+"/v2/models/simple_string/infer", body, nil).wantError(t, "non-decimal string", http.StatusBadRequest, "INPUT1 element 3", `"three"`)

	// Truncated and overlong BYTES elements in binary data.
	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"truncated prefix", append(bytesLE("ab"), 1, 0), "length prefix"},
		{"overlong element", append(bytesLE("ab"), 9, 0, 0, 0, 'x'), "declares 9 bytes but only 1 remain"},
		{"left over", bytesLE("ab", "cd", "ef"), "left over"},
	} {
		hb, hdr := binaryBody(t, map[string]any{"inputs": []any{map[string]any{"name": "INPUT0", "shape": []int{1, 2}, "datatype": "BYTES", "parameters": map[string]any{"binary_data_size": len(tc.data)}}}}, tc.data)
		do(t, "POST", url+"/v2/models/simple_identity/infer", hb, hdr).wantError(t, tc.name, http.StatusBadRequest, `input "INPUT0"`, tc.msg)
	}
}

// The binary extension's raw binary request: Inference-Header-Content-
// Length 0, the body is the only input's data, batch 1, outputs binary.
func TestHTTPRawBinaryRequest(t *testing.T) {
	_, _, url := startHTTP(t, server.Options{})
	x := ramp(16, 1)
	resp, blob := splitBinaryResponse(t, do(t, "POST", url+"/v2/models/calibrated/infer", client.EncodeFP32(x), map[string]string{"Inference-Header-Content-Length": "0"}))
	o := outputsOf(t, resp)[0]
	if fmt.Sprint(o["shape"]) != "[1 16]" || !bytes.Equal(blob, client.EncodeFP32(x)) {
		t.Errorf("raw request: output %v, %d bytes; want shape [1 16] and the input back", o, len(blob))
	}
	do(t, "POST", url+"/v2/models/simple/infer", int32LE(make([]int32, 16)), map[string]string{"Inference-Header-Content-Length": "0"}).
		wantError(t, "raw request to a two-input model", http.StatusBadRequest, "exactly one input")
}

// Errors: the protocol's {"error": ...} object with 400 for bad requests,
// 404 for unknown models, 405 for wrong methods.
func TestHTTPInferErrors(t *testing.T) {
	_, _, url := startHTTP(t, server.Options{})
	good := func() map[string]any {
		return map[string]any{"inputs": []any{
			map[string]any{"name": "INPUT0", "shape": []int{1, 16}, "datatype": "INT32", "data": make([]int, 16)},
			map[string]any{"name": "INPUT1", "shape": []int{1, 16}, "datatype": "INT32", "data": make([]int, 16)},
		}}
	}
	with := func(f func(m map[string]any)) []byte {
		m := good()
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	input := func(m map[string]any, i int) map[string]any { return m["inputs"].([]any)[i].(map[string]any) }
	infer := url + "/v2/models/simple/infer"
	cases := []struct {
		name string
		url  string
		body []byte
		hdr  map[string]string
		code int
		msg  []string
	}{
		{"malformed JSON", infer, []byte(`{"inputs": [`), nil, 400, []string{"malformed"}},
		{"not an inference request", infer, []byte(`{"inputs": 3}`), nil, 400, []string{"inputs"}},
		{"unknown model", url + "/v2/models/nope/infer", with(func(map[string]any) {}), nil, 404, []string{`"nope"`}},
		{"unknown input", infer, with(func(m map[string]any) { input(m, 0)["name"] = "IN0" }), nil, 400, []string{`no input "IN0"`}},
		{"wrong datatype", infer, with(func(m map[string]any) { input(m, 0)["datatype"] = "FP32" }), nil, 400, []string{"FP32", "expected INT32"}},
		{"wrong shape", infer, with(func(m map[string]any) { input(m, 0)["shape"] = []int{1, 15} }), nil, 400, []string{"[1 15]", "expected [-1 16]"}},
		{"negative dimension", infer, with(func(m map[string]any) { input(m, 0)["shape"] = []int{1, -16} }), nil, 400, []string{"negative dimension -16"}},
		{"too few elements", infer, with(func(m map[string]any) { input(m, 1)["data"] = make([]int, 15) }), nil, 400, []string{"needs 16 elements", "got 15"}},
		{"not an integer", infer, with(func(m map[string]any) { input(m, 1)["data"] = append(zeros(15), 1.5) }), nil, 400, []string{"element 15", "1.5"}},
		{"out of INT32 range", infer, with(func(m map[string]any) { input(m, 1)["data"] = append(zeros(15), 1<<40) }), nil, 400, []string{"element 15"}},
		{"missing input", infer, with(func(m map[string]any) { m["inputs"] = m["inputs"].([]any)[:1] }), nil, 400, []string{"expects 2 inputs"}},
		{"unknown output", infer, with(func(m map[string]any) { m["outputs"] = []any{map[string]any{"name": "OUT"}} }), nil, 400, []string{`no output "OUT"`}},
		{"batch too large", infer, with(func(m map[string]any) {
			input(m, 0)["shape"], input(m, 0)["data"] = []int{9, 16}, make([]int, 9*16)
			input(m, 1)["shape"], input(m, 1)["data"] = []int{9, 16}, make([]int, 9*16)
		}), nil, 400, []string{"batch size 9", "max_batch_size"}},
		{"header length beyond body", infer, with(func(map[string]any) {}), map[string]string{"Inference-Header-Content-Length": "100000"}, 400, []string{"Inference-Header-Content-Length"}},
		{"binary_data_size beyond body", infer, func() []byte {
			b, _ := binaryBody(t, map[string]any{"inputs": []any{
				map[string]any{"name": "INPUT0", "shape": []int{1, 16}, "datatype": "INT32", "parameters": map[string]any{"binary_data_size": 64}},
				map[string]any{"name": "INPUT1", "shape": []int{1, 16}, "datatype": "INT32", "parameters": map[string]any{"binary_data_size": 64}},
			}}, int32LE(make([]int32, 16)))
			return b
		}(), nil, 400, nil}, // header set below
		{"wrong binary size", infer, nil, nil, 400, []string{"needs 64 bytes", "got 60"}},
		{"binary data left over", infer, nil, nil, 400, []string{"not claimed"}},
		{"shared memory", infer, with(func(m map[string]any) {
			input(m, 0)["parameters"] = map[string]any{"shared_memory_region": "r0", "shared_memory_byte_size": 64}
		}), nil, 501, []string{"shared memory"}},
		{"unsupported encoding", infer, with(func(map[string]any) {}), map[string]string{"Content-Encoding": "br"}, 400, []string{"Content-Encoding"}},
	}
	// The three binary cases need their header length.
	mk := func(sizes []int, data []byte) ([]byte, map[string]string) {
		return binaryBody(t, map[string]any{"inputs": []any{
			map[string]any{"name": "INPUT0", "shape": []int{1, 16}, "datatype": "INT32", "parameters": map[string]any{"binary_data_size": sizes[0]}},
			map[string]any{"name": "INPUT1", "shape": []int{1, 16}, "datatype": "INT32", "parameters": map[string]any{"binary_data_size": sizes[1]}},
		}}, data)
	}
	for i := range cases {
		switch cases[i].name {
		case "binary_data_size beyond body":
			cases[i].body, cases[i].hdr = mk([]int{64, 64}, make([]byte, 64))
			cases[i].msg = []string{"binary_data_size 64 but only 0 bytes"}
		case "wrong binary size":
			cases[i].body, cases[i].hdr = mk([]int{60, 64}, make([]byte, 124))
		case "binary data left over":
			cases[i].body, cases[i].hdr = mk([]int{64, 64}, make([]byte, 130))
		}
	}
	for _, tc := range cases {
		do(t, "POST", tc.url, tc.body, tc.hdr).wantError(t, tc.name, tc.code, tc.msg...)
	}
	do(t, "GET", infer, nil, nil).wantError(t, "GET infer", http.StatusMethodNotAllowed)

	// A gzip-compressed request body is accepted (Content-Encoding: gzip).
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(with(func(map[string]any) {}))
	_ = zw.Close()
	var resp map[string]any
	do(t, "POST", infer, zb.Bytes(), map[string]string{"Content-Encoding": "gzip"}).jsonOK(t, "gzip request", &resp)
}

// Triton's statistics extension over HTTP, with the gRPC front-end as the
// oracle: requests over both protocols land in one set of statistics.
func TestHTTPStatisticsShareTheCore(t *testing.T) {
	_, c, url := startHTTP(t, server.Options{})
	body, _ := json.Marshal(map[string]any{"inputs": []any{
		map[string]any{"name": "INPUT0", "shape": []int{2, 16}, "datatype": "INT32", "data": make([]int, 32)},
		map[string]any{"name": "INPUT1", "shape": []int{2, 16}, "datatype": "INT32", "data": make([]int, 32)},
	}})
	for range 3 {
		var resp map[string]any
		do(t, "POST", url+"/v2/models/simple/infer", body, nil).jsonOK(t, "infer", &resp)
	}
	greq := &pb.ModelInferRequest{ModelName: "simple", Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "INPUT0", Datatype: "INT32", Shape: []int64{2, 16}, Contents: &pb.InferTensorContents{IntContents: make([]int32, 32)}},
		{Name: "INPUT1", Datatype: "INT32", Shape: []int64{2, 16}, Contents: &pb.InferTensorContents{IntContents: make([]int32, 32)}},
	}}
	for range 2 {
		if _, err := c.Infer(ctxT(t), greq); err != nil {
			t.Fatal(err)
		}
	}
	type dur struct {
		Count uint64 `json:"count"`
		Ns    uint64 `json:"ns"`
	}
	type modelStat struct {
		Name           string `json:"name"`
		Version        string `json:"version"`
		LastInference  uint64 `json:"last_inference"`
		InferenceCount uint64 `json:"inference_count"`
		ExecutionCount uint64 `json:"execution_count"`
		InferenceStats struct {
			Success, Fail, Queue, ComputeInput, ComputeInfer, ComputeOutput dur
		} `json:"inference_stats"`
		BatchStats []struct {
			BatchSize    uint64 `json:"batch_size"`
			ComputeInfer dur    `json:"compute_infer"`
		} `json:"batch_stats"`
	}
	var st struct {
		ModelStats []modelStat `json:"model_stats"`
	}
	do(t, "GET", url+"/v2/models/simple/stats", nil, nil).jsonOK(t, "stats", &st)
	if len(st.ModelStats) != 1 {
		t.Fatalf("stats of simple: %d entries", len(st.ModelStats))
	}
	s := st.ModelStats[0]
	if s.Name != "simple" || s.Version != "1" || s.InferenceCount != 10 || s.ExecutionCount != 5 || s.InferenceStats.Success.Count != 5 || s.LastInference == 0 {
		t.Errorf("simple stats after 3 HTTP + 2 gRPC requests of batch 2: %+v", s)
	}
	if len(s.BatchStats) != 1 || s.BatchStats[0].BatchSize != 2 || s.BatchStats[0].ComputeInfer.Count != 5 {
		t.Errorf("batch stats %+v", s.BatchStats)
	}
	gs, err := c.Statistics(ctxT(t), "simple", "")
	if err != nil || gs[0].InferenceStats.Success.Count != s.InferenceStats.Success.Count || gs[0].InferenceStats.Success.Ns != s.InferenceStats.Success.Ns {
		t.Errorf("gRPC statistics %v disagree with HTTP %+v (%v)", gs, s, err)
	}
	st.ModelStats = nil
	do(t, "GET", url+"/v2/models/stats", nil, nil).jsonOK(t, "all stats", &st)
	if len(st.ModelStats) != 10 {
		t.Errorf("stats of all models: %d entries, want 10", len(st.ModelStats))
	}
	do(t, "GET", url+"/v2/models/simple/versions/1/stats", nil, nil).jsonOK(t, "version stats", &st)
	do(t, "GET", url+"/v2/models/nope/stats", nil, nil).wantError(t, "unknown model stats", http.StatusNotFound)
}

// Triton's model repository extension over HTTP: index, load with the
// "config" parameter overriding config.pbtxt, unload.
func TestHTTPRepository(t *testing.T) {
	_, c, url := startHTTP(t, server.Options{})
	type entry struct {
		Name    string  `json:"name"`
		Version *string `json:"version"`
		State   string  `json:"state"`
		Reason  *string `json:"reason"`
	}
	var idx []entry
	do(t, "POST", url+"/v2/repository/index", nil, nil).jsonOK(t, "index", &idx)
	if len(idx) != 10 || idx[0].State != "READY" || idx[0].Reason == nil {
		t.Fatalf("index %+v", idx)
	}
	do(t, "GET", url+"/v2/repository/index", nil, nil).wantError(t, "GET index", http.StatusMethodNotAllowed)

	// The override: the model's own config JSON, changed.
	var cfg map[string]any
	do(t, "GET", url+"/v2/models/calibrated/config", nil, nil).jsonOK(t, "config", &cfg)
	cfg["instance_group"] = []any{map[string]any{"count": 3, "kind": "KIND_CPU"}}
	cfg["parameters"].(map[string]any)["base_us"] = map[string]any{"string_value": "100"}
	cfgJSON, _ := json.Marshal(cfg)
	load, _ := json.Marshal(map[string]any{"parameters": map[string]any{"config": string(cfgJSON)}})
	if r := do(t, "POST", url+"/v2/repository/models/calibrated/load", load, nil); r.code != http.StatusOK {
		t.Fatalf("load with config: %d %s", r.code, r.body)
	}
	got, err := c.ModelConfig(ctxT(t), "calibrated", "")
	if err != nil || got.InstanceGroup[0].Count != 3 || got.Parameters["base_us"].StringValue != "100" {
		t.Fatalf("after HTTP load with config, gRPC sees %v (%v)", got, err)
	}

	cfg["backend"] = "pytorch"
	badCfg, _ := json.Marshal(cfg)
	bad, _ := json.Marshal(map[string]any{"parameters": map[string]any{"config": string(badCfg)}})
	do(t, "POST", url+"/v2/repository/models/calibrated/load", bad, nil).wantError(t, "unrunnable backend", http.StatusBadRequest, "pytorch")
	notJSON, _ := json.Marshal(map[string]any{"parameters": map[string]any{"config": "{"}})
	do(t, "POST", url+"/v2/repository/models/calibrated/load", notJSON, nil).wantError(t, "config not JSON", http.StatusBadRequest, "config")
	file, _ := json.Marshal(map[string]any{"parameters": map[string]any{"config": string(cfgJSON), "file:1/model.onnx": "AAAA"}})
	do(t, "POST", url+"/v2/repository/models/calibrated/load", file, nil).wantError(t, "model file", http.StatusBadRequest, "file:1/model.onnx")
	do(t, "POST", url+"/v2/repository/models/nope/load", nil, nil).wantError(t, "load unknown", http.StatusNotFound, `"nope"`)
	if got, _ := c.ModelConfig(ctxT(t), "calibrated", ""); got.InstanceGroup[0].Count != 3 {
		t.Fatal("a failed load replaced the running model")
	}

	if r := do(t, "POST", url+"/v2/repository/models/calibrated/unload", nil, nil); r.code != http.StatusOK {
		t.Fatalf("unload: %d %s", r.code, r.body)
	}
	do(t, "GET", url+"/v2/models/calibrated/ready", nil, nil).wantError(t, "unloaded model ready", http.StatusBadRequest)
	idx = nil
	do(t, "POST", url+"/v2/repository/index", []byte(`{"ready": true}`), nil).jsonOK(t, "ready index", &idx)
	for _, e := range idx {
		if e.Name == "calibrated" {
			t.Errorf("ready index lists the unloaded model: %+v", e)
		}
	}
	idx = nil
	do(t, "POST", url+"/v2/repository/index", []byte(`{}`), nil).jsonOK(t, "index", &idx)
	for _, e := range idx {
		if e.Name == "calibrated" && e.State != "UNAVAILABLE" {
			t.Errorf("unloaded model in index: %+v", e)
		}
	}
	do(t, "POST", url+"/v2/repository/models/calibrated/unload", nil, nil).wantError(t, "unload twice", http.StatusNotFound)
	// Load without a body rereads config.pbtxt.
	if r := do(t, "POST", url+"/v2/repository/models/calibrated/load", nil, nil); r.code != http.StatusOK {
		t.Fatalf("load: %d %s", r.code, r.body)
	}
	if got, _ := c.ModelConfig(ctxT(t), "calibrated", ""); got.InstanceGroup[0].Count != 1 {
		t.Error("load without a config did not restore config.pbtxt")
	}
	do(t, "POST", url+"/v2/repository/models/calibrated/reload", nil, nil).wantError(t, "unknown action", http.StatusNotFound)
}

// Sequence parameters over HTTP (Triton's sequence extension): the state of
// a sequence follows its sequence_id, keyed as on gRPC.
func TestHTTPSequence(t *testing.T) {
	_, c, url := startHTTP(t, server.Options{})
	cfg, err := c.ModelConfig(ctxT(t), "snapshotter", "")
	if err != nil {
		t.Fatal(err)
	}
	ch, kernel := int(cfg.Input[0].Dims[0]), 0
	fmt.Sscan(cfg.Parameters["kernel"].GetStringValue(), &kernel)
	send := func(params map[string]any, v float32) []float64 {
		upd := make([]float32, ch)
		for i := range upd {
			upd[i] = v
		}
		body, _ := json.Marshal(map[string]any{"parameters": params, "inputs": []any{map[string]any{"name": cfg.Input[0].Name, "shape": []int{ch, 1}, "datatype": "FP32", "data": upd}}})
		var resp map[string]any
		do(t, "POST", url+"/v2/models/snapshotter/infer", body, nil).jsonOK(t, "snapshotter", &resp)
		return numbers(t, outputsOf(t, resp)[0]["data"])
	}
	send(map[string]any{"sequence_id": 42, "sequence_start": true}, 1)
	out := send(map[string]any{"sequence_id": 42}, 2)
	if out[kernel-2] != 1 || out[kernel-1] != 2 {
		t.Errorf("sequence 42 window ends %v, want [1 2]", out[kernel-2:kernel])
	}
	// Continued over gRPC: the same correlation id, the same state.
	greq := client.NewRequest("snapshotter", client.Tensor{Name: cfg.Input[0].Name, Shape: []int64{int64(ch), 1}, Data: make([]float32, ch)})
	client.SetSequence(greq, 42, false, true)
	if _, err := c.Infer(ctxT(t), greq); err != nil {
		t.Errorf("gRPC continuation of an HTTP sequence: %v", err)
	}
	body, _ := json.Marshal(map[string]any{"parameters": map[string]any{"sequence_id": 42, "sequence_start": "yes"}, "inputs": []any{}})
	do(t, "POST", url+"/v2/models/snapshotter/infer", body, nil).wantError(t, "bad sequence_start", http.StatusBadRequest, "sequence_start")
}

func mlpNet() *backend.Dense {
	return backend.NewDense([]int{64, 256, 128, 64, 1}, "relu", "sigmoid", 1)
}

func zeros(n int) []any {
	v := make([]any, n)
	for i := range v {
		v[i] = 0
	}
	return v
}

// A busy HTTP port fails Start with the address, and frees the gRPC port.
func TestHTTPListenFailureNamesTheAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", HTTPAddr: busy.Addr().String(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Start()
	if err == nil || !strings.Contains(err.Error(), "listen for HTTP on "+busy.Addr().String()) {
		t.Fatalf("Start with a busy HTTP port: %v", err)
	}
	if l, err := net.Listen("tcp", srv.Addr()); err != nil {
		t.Errorf("gRPC port %s still held after the failed Start: %v", srv.Addr(), err)
	} else {
		l.Close()
	}
}
