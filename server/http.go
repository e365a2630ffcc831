package server

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
)

// The KServe v2 HTTP/REST front-end, with Triton's extensions over HTTP:
// binary tensor data, model configuration, statistics and the model
// repository (index, load with a config override, unload). Every handler
// calls the same methods the gRPC service does, so both protocols share
// one model runtime, one scheduler and one set of statistics.

const (
	// inferHeaderLength is Triton's header giving the length of the JSON
	// part of a body that carries binary tensor data after it.
	inferHeaderLength = "Inference-Header-Content-Length"
	// maxHTTPBody matches the gRPC front-end's message limit.
	maxHTTPBody = 256 << 20
)

// httpHandler routes /v2/... requests.
func (s *Server) httpHandler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/v2" || p == "/v2/" {
		if !method(w, r, http.MethodGet) {
			return
		}
		md, _ := s.ServerMetadata(r.Context(), &pb.ServerMetadataRequest{})
		writeJSON(w, map[string]any{"name": md.GetName(), "version": md.GetVersion(), "extensions": md.GetExtensions()})
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		httpError(w, http.StatusNotFound, "Not Found: the KServe v2 endpoints are under /v2")
		return
	}
	switch {
	case rest == "health/live" || rest == "health/ready":
		if !method(w, r, http.MethodGet) {
			return
		}
		// Live and ready mean the same here: models load before Start.
		w.WriteHeader(http.StatusOK)
	case rest == "models/stats":
		if method(w, r, http.MethodGet) {
			s.httpStats(w, r, "", "")
		}
	case strings.HasPrefix(rest, "models/"):
		s.httpModel(w, r, strings.TrimPrefix(rest, "models/"))
	case rest == "repository/index":
		if method(w, r, http.MethodPost) {
			s.httpIndex(w, r)
		}
	case strings.HasPrefix(rest, "repository/models/"):
		tail := strings.TrimPrefix(rest, "repository/models/")
		i := strings.LastIndexByte(tail, '/')
		if i <= 0 || (tail[i+1:] != "load" && tail[i+1:] != "unload") {
			httpError(w, http.StatusNotFound, "Not Found: want /v2/repository/models/<model>/load or /unload")
			return
		}
		if method(w, r, http.MethodPost) {
			s.httpControl(w, r, tail[:i], tail[i+1:])
		}
	default:
		httpError(w, http.StatusNotFound, "Not Found")
	}
}

// httpModel serves /v2/models/<m>[/versions/<v>][/ready|/config|/infer|/stats].
func (s *Server) httpModel(w http.ResponseWriter, r *http.Request, rest string) {
	name, rest, _ := strings.Cut(rest, "/")
	version := ""
	if v, ok := strings.CutPrefix(rest, "versions/"); ok {
		version, rest, _ = strings.Cut(v, "/")
		if n, err := strconv.ParseInt(version, 10, 64); err != nil || n <= 0 {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("model %q: version %q is not a positive integer", name, version))
			return
		}
	}
	if name == "" {
		httpError(w, http.StatusBadRequest, "missing model name")
		return
	}
	ctx := r.Context()
	switch rest {
	case "":
		if !method(w, r, http.MethodGet) {
			return
		}
		md, err := s.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: name, Version: version})
		if err != nil {
			statusError(w, err)
			return
		}
		type tensorMeta struct {
			Name     string  `json:"name"`
			Datatype string  `json:"datatype"`
			Shape    []int64 `json:"shape"`
		}
		meta := func(ts []*pb.ModelMetadataResponse_TensorMetadata) []tensorMeta {
			out := make([]tensorMeta, 0, len(ts))
			for _, t := range ts {
				out = append(out, tensorMeta{t.GetName(), t.GetDatatype(), t.GetShape()})
			}
			return out
		}
		writeJSON(w, map[string]any{
			"name": md.GetName(), "versions": md.GetVersions(), "platform": md.GetPlatform(),
			"inputs": meta(md.GetInputs()), "outputs": meta(md.GetOutputs()),
		})
	case "ready":
		if !method(w, r, http.MethodGet) {
			return
		}
		if _, err := s.lookup(name, version); err != nil {
			// Triton answers "not ready" with 400 and says why.
			httpError(w, http.StatusBadRequest, status.Convert(err).Message())
			return
		}
		w.WriteHeader(http.StatusOK)
	case "config":
		if !method(w, r, http.MethodGet) {
			return
		}
		resp, err := s.ModelConfig(ctx, &pb.ModelConfigRequest{Name: name, Version: version})
		if err != nil {
			statusError(w, err)
			return
		}
		writeProto(w, resp.GetConfig())
	case "stats":
		if method(w, r, http.MethodGet) {
			s.httpStats(w, r, name, version)
		}
	case "infer":
		if method(w, r, http.MethodPost) {
			s.httpInfer(w, r, name, version)
		}
	default:
		httpError(w, http.StatusNotFound, "Not Found: want /v2/models/<model>[/versions/<v>][/ready|/config|/infer|/stats]")
	}
}

func (s *Server) httpStats(w http.ResponseWriter, r *http.Request, name, version string) {
	resp, err := s.ModelStatistics(r.Context(), &pb.ModelStatisticsRequest{Name: name, Version: version})
	if err != nil {
		statusError(w, err)
		return
	}
	writeProto(w, resp)
}

func (s *Server) httpIndex(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Ready *bool `json:"ready"`
	}
	if err := readJSONBody(r, &body); err != nil {
		httpError(w, http.StatusBadRequest, "repository index: "+err.Error())
		return
	}
	resp, err := s.RepositoryIndex(r.Context(), &pb.RepositoryIndexRequest{Ready: body.Ready != nil && *body.Ready})
	if err != nil {
		statusError(w, err)
		return
	}
	type entry struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
		State   string `json:"state"`
		Reason  string `json:"reason"`
	}
	out := make([]entry, 0, len(resp.GetModels()))
	for _, m := range resp.GetModels() {
		out = append(out, entry{m.GetName(), m.GetVersion(), m.GetState(), m.GetReason()})
	}
	writeJSON(w, out)
}

// httpControl loads or unloads a model. Load takes the "config" parameter
// (a ModelConfig in JSON, as a string), as Triton's HTTP repository
// extension does; unload takes "unload_dependents".
func (s *Server) httpControl(w http.ResponseWriter, r *http.Request, name, action string) {
	var body struct {
		Parameters map[string]json.RawMessage `json:"parameters"`
	}
	if err := readJSONBody(r, &body); err != nil {
		httpError(w, http.StatusBadRequest, action+" "+strconv.Quote(name)+": "+err.Error())
		return
	}
	var err error
	if action == "load" {
		req := &pb.RepositoryModelLoadRequest{ModelName: name, Parameters: map[string]*pb.ModelRepositoryParameter{}}
		for k, v := range body.Parameters {
			if strings.HasPrefix(k, "file:") {
				httpError(w, http.StatusBadRequest, fmt.Sprintf("load %q: parameter %q: the embedded server cannot load model files; give the config parameter with one of its backends", name, k))
				return
			}
			var str string
			if e := json.Unmarshal(v, &str); e != nil {
				httpError(w, http.StatusBadRequest, fmt.Sprintf("load %q: parameter %q must be a string (the config as JSON text), got %s", name, k, v))
				return
			}
			req.Parameters[k] = &pb.ModelRepositoryParameter{ParameterChoice: &pb.ModelRepositoryParameter_StringParam{StringParam: str}}
		}
		_, err = s.RepositoryModelLoad(r.Context(), req)
	} else {
		req := &pb.RepositoryModelUnloadRequest{ModelName: name}
		for k, v := range body.Parameters {
			var b bool
			if k != "unload_dependents" || json.Unmarshal(v, &b) != nil {
				httpError(w, http.StatusBadRequest, fmt.Sprintf("unload %q: unsupported parameter %q=%s (supported: unload_dependents, a boolean)", name, k, v))
				return
			}
			req.Parameters = map[string]*pb.ModelRepositoryParameter{k: {ParameterChoice: &pb.ModelRepositoryParameter_BoolParam{BoolParam: b}}}
		}
		_, err = s.RepositoryModelUnload(r.Context(), req)
	}
	if err != nil {
		statusError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
}

// readJSONBody decodes an optional JSON body (empty is allowed).
func readJSONBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxHTTPBody+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(b) > maxHTTPBody {
		return fmt.Errorf("body exceeds %d bytes", maxHTTPBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("body is not the expected JSON object: %w", err)
	}
	return nil
}

func method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want {
		return true
	}
	w.Header().Set("Allow", want)
	httpError(w, http.StatusMethodNotAllowed, "Method Not Allowed: use "+want)
	return false
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, b)
}

func writeProto(w http.ResponseWriter, m proto.Message) {
	b, err := protoJSON(m)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, b)
}

func writeBody(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// httpError writes the protocol's error object, {"error": "..."}.
func httpError(w http.ResponseWriter, code int, msg string) {
	b := make([]byte, 0, len(msg)+16)
	b = append(b, `{"error":`...)
	b = appendJSONString(b, []byte(msg))
	b = append(b, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// statusError answers a gRPC status as Triton's HTTP endpoint maps its
// errors: not found 404, unavailable 503, unimplemented 501, internal
// 500, authentication 401, everything else 400.
func statusError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	httpError(w, httpCode(st.Code()), st.Message())
}

func httpCode(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.NotFound:
		return http.StatusNotFound
	case codes.Unavailable, codes.ResourceExhausted:
		return http.StatusServiceUnavailable
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Internal, codes.DataLoss:
		return http.StatusInternalServerError
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	default:
		return http.StatusBadRequest
	}
}

// ---- inference ----

// httpCall is the HTTP front-end of one inference request; calls are
// pooled so that the body, the parsed header, the decoded inputs and the
// response buffer are reused from request to request.
type httpCall struct {
	body  []byte // the whole request body
	hdr   httpInferRequest
	raw   bool // Inference-Header-Content-Length: 0 — the body is one input's binary data
	bin   []byte
	r     request
	out   []byte // response: JSON header, then binary outputs
	blob  []byte // binary outputs, gathered while the header is written
	idx   []int
	names []string
	jlen  int // length of the JSON part of out, when binary data follows
}

// httpInferRequest is $inference_request. Parameters are read into raw
// JSON fields reused between requests (encoding/json keeps their
// capacity), and parsed where used.
type httpInferRequest struct {
	ID         string          `json:"id"`
	Parameters httpReqParams   `json:"parameters"`
	Inputs     []httpReqInput  `json:"inputs"`
	Outputs    []httpReqOutput `json:"outputs"`
}

type httpReqParams struct {
	SequenceID       json.RawMessage `json:"sequence_id"`
	SequenceStart    json.RawMessage `json:"sequence_start"`
	SequenceEnd      json.RawMessage `json:"sequence_end"`
	BinaryDataOutput json.RawMessage `json:"binary_data_output"`
	Timeout          json.RawMessage `json:"timeout"`
}

type httpReqInput struct {
	Name       string  `json:"name"`
	Shape      []int64 `json:"shape"`
	Datatype   string  `json:"datatype"`
	Parameters struct {
		BinaryDataSize     json.RawMessage `json:"binary_data_size"`
		SharedMemoryRegion json.RawMessage `json:"shared_memory_region"`
	} `json:"parameters"`
	Data json.RawMessage `json:"data"`
}

type httpReqOutput struct {
	Name       string `json:"name"`
	Parameters struct {
		BinaryData         json.RawMessage `json:"binary_data"`
		Classification     json.RawMessage `json:"classification"`
		SharedMemoryRegion json.RawMessage `json:"shared_memory_region"`
	} `json:"parameters"`
}

// reset empties the request for the next decode but keeps every buffer:
// encoding/json decodes into slice elements beyond the length without
// zeroing them, so stale fields must be cleared first.
func (q *httpInferRequest) reset() {
	q.ID = ""
	p := &q.Parameters
	p.SequenceID, p.SequenceStart, p.SequenceEnd, p.BinaryDataOutput = p.SequenceID[:0], p.SequenceStart[:0], p.SequenceEnd[:0], p.BinaryDataOutput[:0]
	p.Timeout = p.Timeout[:0]
	ins := q.Inputs[:cap(q.Inputs)]
	for i := range ins {
		in := &ins[i]
		in.Name, in.Datatype = "", ""
		in.Shape = in.Shape[:0]
		in.Parameters.BinaryDataSize = in.Parameters.BinaryDataSize[:0]
		in.Parameters.SharedMemoryRegion = in.Parameters.SharedMemoryRegion[:0]
		in.Data = in.Data[:0]
	}
	q.Inputs = q.Inputs[:0]
	outs := q.Outputs[:cap(q.Outputs)]
	for i := range outs {
		o := &outs[i]
		o.Name = ""
		o.Parameters.BinaryData = o.Parameters.BinaryData[:0]
		o.Parameters.Classification = o.Parameters.Classification[:0]
		o.Parameters.SharedMemoryRegion = o.Parameters.SharedMemoryRegion[:0]
	}
	q.Outputs = q.Outputs[:0]
}

func (c *httpCall) reset() {
	c.hdr.reset()
	c.raw = false
	c.bin = nil
	c.jlen = 0
	c.out = c.out[:0]
	c.blob = c.blob[:0]
	in := c.r.inputs
	bound := c.r.bound
	c.r = request{inputs: in, bound: bound}
}

type callPool struct{ p sync.Pool }

func (cp *callPool) get() *httpCall {
	if c, ok := cp.p.Get().(*httpCall); ok {
		return c
	}
	return &httpCall{}
}

func (cp *callPool) put(c *httpCall) {
	// A huge request should not pin its buffers for good.
	if cap(c.body) > 16<<20 || cap(c.out) > 16<<20 || cap(c.blob) > 16<<20 {
		return
	}
	c.reset()
	cp.p.Put(c)
}

func (s *Server) httpInfer(w http.ResponseWriter, r *http.Request, model, version string) {
	// Room in the in-flight budget before the body is read (admission.go);
	// a body of unknown length is counted once read.
	held, err := s.admit(r.Context(), max(r.ContentLength, 0), false)
	if err != nil {
		statusError(w, err)
		return
	}
	defer func() { s.inflight.release(held) }()
	c := s.calls.get()
	defer s.calls.put(c)
	if err := c.read(r); err != nil {
		statusError(w, err)
		return
	}
	if extra := need(int64(len(c.body))) - held; extra > 0 {
		s.inflight.force(extra)
		held += extra
	}
	if err := s.serveInfer(r.Context(), model, version, &c.r, c); err != nil {
		statusError(w, err)
		return
	}
	s.inflight.force(int64(len(c.out)))
	held += int64(len(c.out))
	// Canonical keys set directly: Header.Set would allocate per call.
	h := w.Header()
	if c.jlen > 0 {
		h["Content-Type"] = s.ctBinary
		h[inferHeaderLength] = []string{strconv.Itoa(c.jlen)}
	} else {
		h["Content-Type"] = s.ctJSON
	}
	h["Content-Length"] = []string{strconv.Itoa(len(c.out))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(c.out)
}

// read takes the body (decompressing gzip or deflate as Triton does) and
// parses the JSON header in front of any binary data.
func (c *httpCall) read(r *http.Request) error {
	var src io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "Content-Encoding gzip: %v", err)
		}
		src = zr
	case "deflate":
		zr, err := zlib.NewReader(r.Body)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "Content-Encoding deflate: %v", err)
		}
		src = zr
	default:
		return status.Errorf(codes.InvalidArgument, "unsupported Content-Encoding %q (supported: gzip, deflate, identity)", enc)
	}
	if r.ContentLength > maxHTTPBody {
		return status.Errorf(codes.InvalidArgument, "request body of %d bytes exceeds the %d-byte limit", r.ContentLength, maxHTTPBody)
	}
	if r.ContentLength > 0 && src == r.Body {
		n := int(r.ContentLength)
		if cap(c.body) < n {
			c.body = make([]byte, n)
		}
		c.body = c.body[:n]
		if _, err := io.ReadFull(r.Body, c.body); err != nil {
			return status.Errorf(codes.InvalidArgument, "read request body: %v", err)
		}
	} else {
		buf := bytes.NewBuffer(c.body[:0])
		if _, err := buf.ReadFrom(io.LimitReader(src, maxHTTPBody+1)); err != nil {
			return status.Errorf(codes.InvalidArgument, "read request body: %v", err)
		}
		if buf.Len() > maxHTTPBody {
			return status.Errorf(codes.InvalidArgument, "request body exceeds the %d-byte limit", maxHTTPBody)
		}
		c.body = buf.Bytes()
	}
	hlen := len(c.body)
	if v := r.Header.Get(inferHeaderLength); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > len(c.body) {
			return status.Errorf(codes.InvalidArgument, "%s %q must be an integer in 0..%d (the body's length)", inferHeaderLength, v, len(c.body))
		}
		hlen = n
	}
	if hlen == 0 {
		c.raw = true // Triton's raw binary request: no JSON at all
		c.bin = c.body
		return nil
	}
	c.bin = c.body[hlen:]
	if err := json.Unmarshal(c.body[:hlen], &c.hdr); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return status.Errorf(codes.InvalidArgument, "request JSON is malformed at byte %d: %v", se.Offset, err)
		}
		return status.Errorf(codes.InvalidArgument, "request JSON does not match $inference_request: %v", err)
	}
	return nil
}

func (c *httpCall) bind(cfg *pb.ModelConfig, r *request) error {
	if c.raw {
		return c.bindRaw(cfg, r)
	}
	q := &c.hdr
	if err := httpSequence(&q.Parameters, &r.seq); err != nil {
		return err
	}
	if t := q.Parameters.Timeout; len(t) > 0 {
		us, err := strconv.ParseUint(string(t), 10, 64)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "parameter timeout %s must be a non-negative integer (microseconds)", t)
		}
		r.timeoutUS = us
	}
	b, err := newBinder(cfg, r, len(q.Inputs))
	if err != nil {
		return err
	}
	bin := c.bin
	for i := range q.Inputs {
		in := &q.Inputs[i]
		slot, n, err := b.input(in.Name, in.Datatype, in.Shape)
		if err != nil {
			return err
		}
		if len(in.Parameters.SharedMemoryRegion) > 0 {
			return status.Errorf(codes.Unimplemented, "model %q: input %q: shared memory is not supported by the embedded server; send the data in the body", cfg.Name, in.Name)
		}
		if len(in.Parameters.BinaryDataSize) > 0 {
			size, err := strconv.ParseUint(string(in.Parameters.BinaryDataSize), 10, 63)
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q: binary_data_size %s is not a byte count", cfg.Name, in.Name, in.Parameters.BinaryDataSize)
			}
			if size > uint64(len(bin)) {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q: binary_data_size %d but only %d bytes of binary data remain after the JSON header (%s)", cfg.Name, in.Name, size, len(bin), inferHeaderLength)
			}
			if len(in.Data) > 0 {
				return status.Errorf(codes.InvalidArgument, "model %q: input %q has both data and binary_data_size", cfg.Name, in.Name)
			}
			if err := decodeRaw(cfg.Name, in.Name, slot, n, bin[:size:size]); err != nil {
				return err
			}
			bin = bin[size:]
			continue
		}
		if n == 0 && len(in.Data) == 0 {
			continue
		}
		if err := decodeJSONData(cfg.Name, in.Name, slot, n, in.Data); err != nil {
			return err
		}
	}
	if len(bin) > 0 {
		return status.Errorf(codes.InvalidArgument, "model %q: %d bytes of binary data after the JSON header are not claimed by any input's binary_data_size", cfg.Name, len(bin))
	}
	return b.finish()
}

// bindRaw reads a raw binary request: the whole body is the data of the
// model's only input, whose shape follows from the byte count (batch 1
// where the model batches).
func (c *httpCall) bindRaw(cfg *pb.ModelConfig, r *request) error {
	ins := cfg.GetInput()
	if len(ins) != 1 {
		return status.Errorf(codes.InvalidArgument, "model %q: a raw binary request (%s: 0) needs a model with exactly one input; it has %d", cfg.Name, inferHeaderLength, len(ins))
	}
	in := ins[0]
	dims := in.GetDims()
	var shape []int64
	if cfg.GetMaxBatchSize() > 0 {
		shape = append(shape, 1)
	}
	if in.GetDataType() == pb.DataType_TYPE_STRING {
		if len(dims) != 1 || (dims[0] != 1 && dims[0] != -1) {
			return status.Errorf(codes.InvalidArgument, "model %q: a raw binary request of BYTES needs input shape [1], input %q has %v", cfg.Name, in.GetName(), dims)
		}
		shape = append(shape, 1)
	} else {
		size := int64(backend.ElementSize(in.GetDataType()))
		known, variable := int64(1), -1
		for i, d := range dims {
			if d < 0 {
				if variable >= 0 {
					return status.Errorf(codes.InvalidArgument, "model %q: a raw binary request needs at most one variable dimension; input %q has %v", cfg.Name, in.GetName(), dims)
				}
				variable = i
				continue
			}
			known *= d
		}
		start := len(shape)
		shape = append(shape, dims...)
		if variable >= 0 {
			if known == 0 || int64(len(c.bin))%(known*size) != 0 {
				return status.Errorf(codes.InvalidArgument, "model %q: %d bytes of raw binary data do not fill input %q of shape %v with %s elements", cfg.Name, len(c.bin), in.GetName(), dims, wireDatatype(in.GetDataType()))
			}
			shape[start+variable] = int64(len(c.bin)) / (known * size)
		}
	}
	b, err := newBinder(cfg, r, 1)
	if err != nil {
		return err
	}
	slot, n, err := b.input(in.GetName(), wireDatatype(in.GetDataType()), shape)
	if err != nil {
		return err
	}
	if err := decodeRaw(cfg.Name, in.GetName(), slot, n, c.bin); err != nil {
		return err
	}
	return b.finish()
}

// httpSequence reads the sequence parameters; ids are keyed as on gRPC,
// so a sequence may even switch protocols.
func httpSequence(p *httpReqParams, sc *seqControl) error {
	if id := p.SequenceID; len(id) > 0 {
		if id[0] == '"' {
			var s string
			if err := json.Unmarshal(id, &s); err != nil {
				return status.Errorf(codes.InvalidArgument, "parameter sequence_id: %v", err)
			}
			sc.key = strconv.Quote(s)
		} else {
			v, err := strconv.ParseUint(string(id), 10, 64)
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "parameter sequence_id %s must be an unsigned integer or a string", id)
			}
			if v != 0 {
				sc.key = strconv.FormatUint(v, 10)
			}
		}
	}
	var err error
	if sc.start, err = jsonBool("sequence_start", p.SequenceStart); err != nil {
		return err
	}
	sc.end, err = jsonBool("sequence_end", p.SequenceEnd)
	return err
}

func jsonBool(name string, v json.RawMessage) (bool, error) {
	switch string(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, status.Errorf(codes.InvalidArgument, "parameter %s must be true or false, got %s", name, v)
}

// emit writes $inference_response; outputs asked for as binary data (or
// all, with binary_data_output) follow the JSON in the order listed.
func (c *httpCall) emit(rt *runtime, r *request) error {
	cfg := rt.cfg
	q := &c.hdr
	binDefault, err := jsonBool("binary_data_output", q.Parameters.BinaryDataOutput)
	if err != nil {
		return err
	}
	if c.raw {
		binDefault = true // the raw binary request always answers in binary
	}
	for i := range q.Outputs {
		p := &q.Outputs[i].Parameters
		if len(p.Classification) > 0 {
			return status.Errorf(codes.Unimplemented, "model %q: output %q: the classification extension is not supported by the embedded server", cfg.Name, q.Outputs[i].Name)
		}
		if len(p.SharedMemoryRegion) > 0 {
			return status.Errorf(codes.Unimplemented, "model %q: output %q: shared memory is not supported by the embedded server", cfg.Name, q.Outputs[i].Name)
		}
	}
	c.names = c.names[:0]
	for i := range q.Outputs {
		c.names = append(c.names, q.Outputs[i].Name)
	}
	c.idx, err = selectOutputs(cfg, r, c.names, c.idx)
	if err != nil {
		return err
	}
	out := c.out[:0]
	if q.ID != "" {
		out = append(out, `{"id":`...)
		out = appendJSONString(out, []byte(q.ID))
		out = append(out, `,"model_name":`...)
	} else {
		out = append(out, `{"model_name":`...)
	}
	out = appendJSONString(out, []byte(cfg.Name))
	out = append(out, `,"model_version":`...)
	out = appendJSONString(out, []byte(rt.mv.version))
	out = append(out, `,"outputs":[`...)
	blob := c.blob[:0]
	for k, i := range c.idx {
		t := &r.outputs[i]
		name := cfg.GetOutput()[i].GetName()
		binary := binDefault
		if k < len(q.Outputs) {
			if v := q.Outputs[k].Parameters.BinaryData; len(v) > 0 {
				if binary, err = jsonBool("binary_data", v); err != nil {
					return err
				}
			}
		}
		if k > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"name":`...)
		out = appendJSONString(out, []byte(name))
		out = append(out, `,"datatype":"`...)
		out = append(out, wireDatatype(t.Type)...)
		out = append(out, `","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				out = append(out, ',')
			}
			out = strconv.AppendInt(out, d, 10)
		}
		out = append(out, ']')
		if binary {
			before := len(blob)
			blob = appendRaw(blob, t)
			out = append(out, `,"parameters":{"binary_data_size":`...)
			out = strconv.AppendInt(out, int64(len(blob)-before), 10)
			out = append(out, "}}"...)
			continue
		}
		out = append(out, `,"data":`...)
		if out, err = appendJSONData(out, name, t); err != nil {
			return err
		}
		out = append(out, '}')
	}
	out = append(out, "]}"...)
	c.jlen = 0
	if len(blob) > 0 {
		c.jlen = len(out)
		out = append(out, blob...)
	}
	c.out, c.blob = out, blob
	return nil
}
