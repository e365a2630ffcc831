package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Inference over HTTP: $inference_request as JSON, with tensors either in
// the JSON ("data") or, with Triton's binary tensor extension, as raw bytes
// after it (each input's "binary_data_size", the JSON's length in the
// Inference-Header-Content-Length header). Outputs come back the same way
// (binary_data_output asks for all of them in binary).

const inferHeaderLength = "Inference-Header-Content-Length"

// Shared header values: assigning them to a request allocates nothing.
var (
	ctJSON   = []string{"application/json"}
	ctBinary = []string{"application/octet-stream"}
)

// inputsKey identifies a request template's tensors: the calls of a load
// generator's slots share one template, and so its encoding.
type inputsKey struct {
	first *pb.ModelInferRequest_InferInputTensor
	raw   *byte
	n     int
}

// encodedInputs is the "inputs" member of a request, encoded once, and
// for the binary encoding the raw tensors that follow the JSON.
type encodedInputs struct {
	json []byte
	raw  [][]byte
}

func keyOf(req *pb.ModelInferRequest) inputsKey {
	k := inputsKey{n: len(req.GetInputs())}
	if k.n > 0 {
		k.first = req.Inputs[0]
	}
	if len(req.GetRawInputContents()) > 0 && len(req.RawInputContents[0]) > 0 {
		k.raw = &req.RawInputContents[0][0]
	}
	return k
}

// encodeInputs encodes req's inputs, which must be in raw_input_contents
// (the form Triton's clients and measure send).
func encodeInputs(req *pb.ModelInferRequest, binary bool) (*encodedInputs, error) {
	if len(req.GetInputs()) == 0 {
		return nil, fmt.Errorf("request to %s has no inputs", req.GetModelName())
	}
	if len(req.GetRawInputContents()) != len(req.GetInputs()) {
		return nil, fmt.Errorf("request to %s: the HTTP client sends inputs from raw_input_contents; %d inputs have %d raw contents", req.GetModelName(), len(req.GetInputs()), len(req.GetRawInputContents()))
	}
	e := &encodedInputs{}
	b := []byte(`"inputs":[`)
	for i, in := range req.GetInputs() {
		raw := req.RawInputContents[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, in.GetName())
		b = append(b, `,"shape":[`...)
		for j, d := range in.GetShape() {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, d, 10)
		}
		b = append(b, `],"datatype":`...)
		b = appendJSONString(b, in.GetDatatype())
		params := in.GetParameters()
		if binary {
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(len(raw)), 10)
			if len(params) > 0 {
				b = append(b, ',')
				b = appendParams(b, params)
			}
			b = append(b, "}}"...)
			e.raw = append(e.raw, raw)
			continue
		}
		if len(params) > 0 {
			b = append(b, `,"parameters":{`...)
			b = appendParams(b, params)
			b = append(b, '}')
		}
		b = append(b, `,"data":`...)
		var err error
		if b, err = appendJSONTensor(b, in.GetDatatype(), raw); err != nil {
			return nil, fmt.Errorf("request to %s: input %s: %w", req.GetModelName(), in.GetName(), err)
		}
		b = append(b, '}')
	}
	e.json = append(b, ']')
	return e, nil
}

// appendParams appends the members of a parameters object (no braces),
// keys sorted so that equal requests encode to equal bytes.
func appendParams(b []byte, params map[string]*pb.InferParameter) []byte {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendParam(b, k, params[k])
	}
	return b
}

func appendParam(b []byte, k string, p *pb.InferParameter) []byte {
	b = appendJSONString(b, k)
	b = append(b, ':')
	switch v := p.GetParameterChoice().(type) {
	case *pb.InferParameter_BoolParam:
		return strconv.AppendBool(b, v.BoolParam)
	case *pb.InferParameter_Int64Param:
		return strconv.AppendInt(b, v.Int64Param, 10)
	case *pb.InferParameter_Uint64Param:
		return strconv.AppendUint(b, v.Uint64Param, 10)
	case *pb.InferParameter_DoubleParam:
		return strconv.AppendFloat(b, v.DoubleParam, 'g', -1, 64)
	case *pb.InferParameter_StringParam:
		return appendJSONString(b, v.StringParam)
	}
	return append(b, "null"...)
}

// NewCall prepares req for repeated sending. A request without
// parameters is encoded once into one contiguous body, shared read-only
// with every call of the same template and never rewritten: net/http
// sends a body it knows to be in memory with the headers in one write,
// and the transport may still be reading a body after RoundTrip returns
// (a server that answers before reading it all, as one refusing for
// overload may), so each request gets its own small reader and request
// value over the shared bytes. A request with parameters (a sequence's
// flags, which change per request) gets a fresh body per request.
func (c *HTTPClient) NewCall(req *pb.ModelInferRequest) (Call, error) {
	return c.newCall(req, true)
}

// bodyKey identifies an encoded body among the calls of one client.
type bodyKey struct {
	in         inputsKey
	head, tail string
}

func (c *HTTPClient) newCall(req *pb.ModelInferRequest, share bool) (*httpCall, error) {
	binary := c.encoding == EncodingBinary
	key := keyOf(req)
	var in *encodedInputs
	if share {
		c.mu.Lock()
		in = c.inputs[key]
		c.mu.Unlock()
	}
	if in == nil {
		var err error
		if in, err = encodeInputs(req, binary); err != nil {
			return nil, err
		}
		if share {
			c.mu.Lock()
			c.inputs[key] = in
			c.mu.Unlock()
		}
	}
	u := c.base + modelPath(req.GetModelName(), req.GetModelVersion()) + "/infer"
	tmpl, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, nil)
	if err != nil {
		return nil, fmt.Errorf("infer %s at %s: %w", req.GetModelName(), c.Addr(), err)
	}
	for k, v := range c.headers {
		tmpl.Header[k] = v
	}
	if c.host != "" {
		tmpl.Host = c.host
	}
	if binary {
		tmpl.Header["Content-Type"] = ctBinary
	} else {
		tmpl.Header["Content-Type"] = ctJSON
	}
	k := &httpCall{c: c, req: req, in: in, binary: binary, tmpl: tmpl, ctx: tmpl.Context(), op: "infer " + req.GetModelName()}
	k.tail = k.appendTail(nil)
	k.dynamic = len(req.GetParameters()) > 0
	if !k.dynamic {
		head := k.appendHead(nil)
		bk := bodyKey{key, string(head), string(k.tail)}
		if share {
			c.mu.Lock()
			k.body = c.bodies[bk]
			c.mu.Unlock()
		}
		if k.body == nil {
			k.body = k.assemble(head)
			if share {
				c.mu.Lock()
				c.bodies[bk] = k.body
				c.mu.Unlock()
			}
		}
		if binary {
			tmpl.Header[inferHeaderLength] = []string{strconv.Itoa(len(head) + len(in.json) + len(k.tail))}
		}
		body := k.body
		tmpl.ContentLength = int64(len(body))
		tmpl.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return k, nil
}

// appendTail writes the end of the JSON: requested outputs, if any, and
// the closing brace.
func (k *httpCall) appendTail(t []byte) []byte {
	if outs := k.req.GetOutputs(); len(outs) > 0 {
		t = append(t, `,"outputs":[`...)
		for i, o := range outs {
			if i > 0 {
				t = append(t, ',')
			}
			t = append(t, `{"name":`...)
			t = appendJSONString(t, o.GetName())
			if k.binary || len(o.GetParameters()) > 0 {
				t = append(t, `,"parameters":{`...)
				if k.binary {
					t = append(t, `"binary_data":true`...)
				}
				if ps := o.GetParameters(); len(ps) > 0 {
					if k.binary {
						t = append(t, ',')
					}
					t = appendParams(t, ps)
				}
				t = append(t, '}')
			}
			t = append(t, '}')
		}
		t = append(t, ']')
	}
	return append(t, '}')
}

// assemble lays out a whole body: the JSON (head, inputs, tail), then any
// binary tensors.
func (k *httpCall) assemble(head []byte) []byte {
	n := len(head) + len(k.in.json) + len(k.tail)
	for _, r := range k.in.raw {
		n += len(r)
	}
	b := make([]byte, 0, n)
	b = append(b, head...)
	b = append(b, k.in.json...)
	b = append(b, k.tail...)
	for _, r := range k.in.raw {
		b = append(b, r...)
	}
	return b
}

// httpCall is one prepared inference request over HTTP.
type httpCall struct {
	c       *HTTPClient
	req     *pb.ModelInferRequest
	in      *encodedInputs
	binary  bool
	dynamic bool // the request has parameters: its head is written per request
	op      string

	tmpl *http.Request // never sent itself: each request is a copy
	ctx  context.Context
	tail []byte // ,"outputs":[…]}
	body []byte // the whole body of a request without parameters; read-only
	head []byte // scratch for a dynamic head

	resp       []byte // the last response body
	respHeader int    // its JSON part's length, or -1 when it is JSON only
	status     int

	// Client times of the last exchange (TimedCall), stamped by an
	// httptrace.ClientTrace bound to the call once per context.
	// The trace's callbacks run on the transport's goroutines, hence
	// the atomics: offsets from start in ns, 0 when not seen.
	traceFor  context.Context // the context traced is derived from
	traced    context.Context
	start     time.Time
	wrote     atomic.Int64
	firstByte atomic.Int64
	times     CallTimes
}

// Times are the last Do's send and receive times.
func (k *httpCall) Times() CallTimes { return k.times }

// traceContext is ctx with the call's trace, made once per context: the
// load generator calls with one context for the whole load.
func (k *httpCall) traceContext(ctx context.Context) context.Context {
	if ctx != k.traceFor {
		k.traceFor = ctx
		k.traced = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest:         func(httptrace.WroteRequestInfo) { k.wrote.Store(k.since()) },
			GotFirstResponseByte: func() { k.firstByte.Store(k.since()) },
		})
	}
	return k.traced
}

// appendHead writes the start of the JSON: the id and the parameters
// (with binary_data_output when outputs come in binary).
func (k *httpCall) appendHead(b []byte) []byte {
	b = append(b, '{')
	if id := k.req.GetId(); id != "" {
		b = append(b, `"id":`...)
		b = appendJSONString(b, id)
		b = append(b, ',')
	}
	ps := k.req.GetParameters()
	if len(ps) > 0 || k.binary {
		b = append(b, `"parameters":{`...)
		if len(ps) > 0 {
			b = appendParams(b, ps)
		}
		if k.binary && ps["binary_data_output"] == nil {
			if len(ps) > 0 {
				b = append(b, ',')
			}
			b = append(b, `"binary_data_output":true`...)
		}
		b = append(b, "},"...)
	}
	return b
}

// Do sends the request and reads the whole response into the call's
// buffer; anything but 200 is an *HTTPError.
func (k *httpCall) Do(ctx context.Context) error {
	if err := k.exchange(ctx); err != nil {
		return err
	}
	if k.status != http.StatusOK {
		return errorFrom(k.op, k.c.Addr(), k.status, k.resp)
	}
	return nil
}

// Response decodes the last Do's response (JSON or binary outputs);
// binary outputs share the call's buffer.
func (k *httpCall) Response() (*pb.ModelInferResponse, error) {
	resp, err := decodeInferResponse(k.resp, k.respHeader)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", k.op, k.c.Addr(), err)
	}
	return resp, nil
}

// request is this request's own copy of the template, with its own
// reader over the body.
func (k *httpCall) request(ctx context.Context) *http.Request {
	if ctx != k.ctx {
		k.tmpl = k.tmpl.WithContext(ctx)
		k.ctx = ctx
	}
	r := new(http.Request)
	*r = *k.tmpl
	if !k.dynamic {
		r.Body = io.NopCloser(bytes.NewReader(k.body))
		return r
	}
	k.head = k.appendHead(k.head[:0])
	body := k.assemble(k.head)
	r.Header = k.tmpl.Header.Clone()
	if k.binary {
		r.Header[inferHeaderLength] = []string{strconv.Itoa(len(k.head) + len(k.in.json) + len(k.tail))}
	}
	r.ContentLength = int64(len(body))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return r
}

func (k *httpCall) exchange(ctx context.Context) error {
	k.wrote.Store(0)
	k.firstByte.Store(0)
	k.start = time.Now()
	k.times = CallTimes{}
	resp, err := k.c.tr.RoundTrip(k.request(k.traceContext(ctx)))
	if err != nil {
		return k.c.transportError(k.op, err)
	}
	defer resp.Body.Close()
	defer k.stamp()
	k.status = resp.StatusCode
	k.respHeader = -1
	if v := resp.Header.Get(inferHeaderLength); v != "" {
		if h, err := strconv.Atoi(v); err == nil {
			k.respHeader = h
		}
	}
	if cl := resp.ContentLength; cl >= 0 && cl <= maxResponse {
		if int64(cap(k.resp)) < cl {
			k.resp = make([]byte, cl)
		}
		k.resp = k.resp[:cl]
		if _, err := io.ReadFull(resp.Body, k.resp); err != nil {
			return k.c.transportError(k.op, fmt.Errorf("read response: %w", err))
		}
		return nil
	}
	b := k.resp[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := resp.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return k.c.transportError(k.op, fmt.Errorf("read response: %w", err))
		}
		if len(b) > maxResponse {
			return fmt.Errorf("%s at %s: response larger than %d bytes", k.op, k.c.Addr(), maxResponse)
		}
	}
	k.resp = b
	return nil
}

// stamp sets the times once the response's body is read. A server that
// answers before the request is written leaves Send at the answer.
func (k *httpCall) stamp() {
	end := k.since()
	first := k.firstByte.Load()
	if first == 0 {
		first = end
	}
	wrote := k.wrote.Load()
	if wrote == 0 || wrote > first {
		wrote = first
	}
	k.times = CallTimes{Send: time.Duration(wrote), Recv: time.Duration(end - first)}
}

// since is the time since the exchange started, at least 1 ns so that 0
// means "not seen".
func (k *httpCall) since() int64 { return max(1, int64(time.Since(k.start))) }

// Infer sends one request and decodes the whole response: outputs in
// RawOutputContents whether they came as JSON or binary.
func (c *HTTPClient) Infer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	k, err := c.newCall(req, false)
	if err != nil {
		return nil, err
	}
	if err := k.Do(ctx); err != nil {
		return nil, err
	}
	resp, err := decodeInferResponse(k.resp, k.respHeader)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", k.op, c.Addr(), err)
	}
	return resp, nil
}

// decodeInferResponse reads $inference_response, with binary outputs after
// the first hlen bytes (hlen < 0: the body is all JSON).
func decodeInferResponse(body []byte, hlen int) (*pb.ModelInferResponse, error) {
	if hlen < 0 {
		hlen = len(body)
	}
	if hlen > len(body) {
		return nil, fmt.Errorf("%s %d but the body has %d bytes", inferHeaderLength, hlen, len(body))
	}
	var r struct {
		ModelName    string                     `json:"model_name"`
		ModelVersion string                     `json:"model_version"`
		ID           string                     `json:"id"`
		Parameters   map[string]json.RawMessage `json:"parameters"`
		Outputs      []struct {
			Name       string          `json:"name"`
			Datatype   string          `json:"datatype"`
			Shape      []int64         `json:"shape"`
			Data       json.RawMessage `json:"data"`
			Parameters struct {
				BinaryDataSize *int64 `json:"binary_data_size"`
			} `json:"parameters"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(body[:hlen], &r); err != nil {
		return nil, fmt.Errorf("the response is not $inference_response: %w", err)
	}
	out := &pb.ModelInferResponse{ModelName: r.ModelName, ModelVersion: r.ModelVersion, Id: r.ID}
	for k, v := range r.Parameters {
		if p := paramFromJSON(v); p != nil {
			if out.Parameters == nil {
				out.Parameters = map[string]*pb.InferParameter{}
			}
			out.Parameters[k] = p
		}
	}
	bin := body[hlen:]
	for _, o := range r.Outputs {
		out.Outputs = append(out.Outputs, &pb.ModelInferResponse_InferOutputTensor{Name: o.Name, Datatype: o.Datatype, Shape: o.Shape})
		if n := o.Parameters.BinaryDataSize; n != nil {
			if *n < 0 || *n > int64(len(bin)) {
				return nil, fmt.Errorf("output %s: binary_data_size %d but %d bytes of binary data are left", o.Name, *n, len(bin))
			}
			out.RawOutputContents = append(out.RawOutputContents, bin[:*n:*n])
			bin = bin[*n:]
			continue
		}
		raw, err := rawFromJSON(o.Datatype, o.Data)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", o.Name, err)
		}
		out.RawOutputContents = append(out.RawOutputContents, raw)
	}
	if len(bin) > 0 {
		return nil, fmt.Errorf("%d bytes of binary data after the outputs belong to none", len(bin))
	}
	return out, nil
}

func paramFromJSON(v json.RawMessage) *pb.InferParameter {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return nil
	}
	switch t := x.(type) {
	case bool:
		return &pb.InferParameter{ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: t}}
	case string:
		return &pb.InferParameter{ParameterChoice: &pb.InferParameter_StringParam{StringParam: t}}
	case float64:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return &pb.InferParameter{ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: i}}
		}
		return &pb.InferParameter{ParameterChoice: &pb.InferParameter_DoubleParam{DoubleParam: t}}
	}
	return nil
}
