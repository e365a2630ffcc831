package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// HTTPClient is a KServe v2 HTTP/REST connection to one inference server,
// with Triton's extensions: binary tensor data, model configuration,
// statistics and the model repository (load with a config override,
// unload). Its keep-alive pool is sized to the requests expected in
// flight (Settings.MaxConns), since HTTP/1.1 carries one request at a
// time per connection.
type HTTPClient struct {
	ep       Endpoint
	base     string      // scheme://host[/prefix]
	host     string      // Host header override; "" for the URL's
	headers  http.Header // the user's headers, values expanded; never logged
	encoding string
	tr       *http.Transport
	hc       *http.Client // control calls: no redirects followed
	conns    *connSet

	mu     sync.Mutex
	inputs map[inputsKey]*encodedInputs // shared by the calls of one request template
	bodies map[bodyKey][]byte           // whole bodies of requests without parameters, read-only
}

// maxResponse bounds a response body, as the server bounds requests.
const maxResponse = 256 << 20

func newHTTP(e Endpoint, s Settings, hs []resolvedHeader, tc *tls.Config) *HTTPClient {
	n := s.MaxConns
	if n <= 0 {
		n = 64
	}
	cs := &connSet{m: map[net.Conn]struct{}{}}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         cs.dialer(d),
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: n,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // tensors are measured as sent; Triton does not compress unasked either
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}
	c := &HTTPClient{ep: e, encoding: s.HTTPEncoding, tr: tr, conns: cs, headers: http.Header{}, inputs: map[inputsKey]*encodedInputs{}, bodies: map[bodyKey][]byte{}}
	if c.encoding == "" {
		c.encoding = EncodingBinary
	}
	scheme := "http"
	if e.TLS {
		scheme = "https"
	}
	c.base = scheme + "://" + e.Host + e.Prefix
	c.host = s.authority(hs)
	for _, h := range hs {
		if h.name != "host" {
			c.headers[http.CanonicalHeaderKey(h.name)] = []string{h.value}
		}
	}
	c.hc = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c
}

// Endpoint is where the connection goes.
func (c *HTTPClient) Endpoint() Endpoint { return c.ep }

// Addr is the endpoint's URL.
func (c *HTTPClient) Addr() string { return c.ep.String() }

// Encoding is the tensor encoding of inference requests: binary or json.
func (c *HTTPClient) Encoding() string { return c.encoding }

// Close closes every connection, failing requests in flight, as closing
// a gRPC connection does.
func (c *HTTPClient) Close() error {
	c.tr.CloseIdleConnections()
	c.conns.closeAll()
	return nil
}

// HTTPError is a response other than success: the protocol's status and
// the server's {"error": "..."} message (or the start of whatever body an
// intermediary sent). It maps to the gRPC status the same failure has on
// Triton's gRPC endpoint, so code that classifies gRPC errors classifies
// these alike, and it says whether the server refused for overload.
type HTTPError struct {
	Op      string // what was asked, e.g. "model metadata mlp"
	Addr    string
	Status  int
	Message string
}

func (e *HTTPError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(no message)"
	}
	return fmt.Sprintf("%s at %s: HTTP %d %s: %s", e.Op, e.Addr, e.Status, http.StatusText(e.Status), msg)
}

// Rejected reports whether the server refused the request for overload
// (503 Service Unavailable, 429 Too Many Requests).
func (e *HTTPError) Rejected() bool {
	return e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests
}

// GRPCStatus maps the status code as Triton maps its gRPC codes to HTTP.
func (e *HTTPError) GRPCStatus() *status.Status {
	var c codes.Code
	switch e.Status {
	case http.StatusBadRequest:
		c = codes.InvalidArgument
	case http.StatusUnauthorized:
		c = codes.Unauthenticated
	case http.StatusForbidden:
		c = codes.PermissionDenied
	case http.StatusNotFound:
		c = codes.NotFound
	case http.StatusTooManyRequests:
		c = codes.ResourceExhausted
	case http.StatusNotImplemented:
		c = codes.Unimplemented
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		c = codes.Unavailable
	case http.StatusInternalServerError:
		c = codes.Internal
	default:
		c = codes.Unknown
	}
	return status.New(c, e.Message)
}

// errorFrom builds the HTTPError of a response body.
func errorFrom(op, addr string, code int, body []byte) *HTTPError {
	e := &HTTPError{Op: op, Addr: addr, Status: code}
	var m struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &m) == nil && m.Error != "" {
		e.Message = m.Error
		return e
	}
	// Not the protocol's error object: an ingress, a proxy. Its first
	// line, printable, is enough to say what answered.
	t := strings.TrimSpace(string(body))
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		t = t[:i]
	}
	if len(t) > 200 {
		t = t[:200] + "…"
	}
	if !utf8.ValidString(t) {
		t = fmt.Sprintf("(%d bytes of non-text body)", len(body))
	}
	e.Message = t
	return e
}

// transportError wraps a failure to get any response.
func (c *HTTPClient) transportError(op string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s at %s: %w%s", op, c.Addr(), err, tlsHint(err.Error()))
}

// roundTrip sends a control request and returns the body of a 2xx
// response; anything else is an error.
func (c *HTTPClient) roundTrip(ctx context.Context, op, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", op, c.Addr(), err)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	if c.host != "" {
		req.Host = c.host
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, c.transportError(op, err)
	}
	if len(b) > maxResponse {
		return nil, fmt.Errorf("%s at %s: response larger than %d bytes", op, c.Addr(), maxResponse)
	}
	if resp.StatusCode/100 == 3 {
		return nil, &HTTPError{Op: op, Addr: c.Addr(), Status: resp.StatusCode,
			Message: "redirected to " + resp.Header.Get("Location") + ": check the address and its path prefix"}
	}
	if resp.StatusCode/100 != 2 {
		e := errorFrom(op, c.Addr(), resp.StatusCode, b)
		if h := tlsHint(e.Message); h != "" {
			e.Message = strings.TrimSuffix(e.Message, ".") + h
		}
		return nil, e
	}
	return b, nil
}

func (c *HTTPClient) getJSON(ctx context.Context, op, path string, v any) error {
	b, err := c.roundTrip(ctx, op, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s at %s: the response is not the protocol's JSON: %w", op, c.Addr(), err)
	}
	return nil
}

var protoIn = protojson.UnmarshalOptions{DiscardUnknown: true}

// modelPath is /v2/models/<m>[/versions/<v>].
func modelPath(model, version string) string {
	p := "/v2/models/" + url.PathEscape(model)
	if version != "" {
		p += "/versions/" + url.PathEscape(version)
	}
	return p
}

// health asks a health endpoint: 200 is yes; another status is an error
// saying what the server answered.
func (c *HTTPClient) health(ctx context.Context, op, path string) (bool, error) {
	if _, err := c.roundTrip(ctx, op, http.MethodGet, path, nil); err != nil {
		return false, err
	}
	return true, nil
}

// Live reports /v2/health/live.
func (c *HTTPClient) Live(ctx context.Context) (bool, error) {
	return c.health(ctx, "server live", "/v2/health/live")
}

// Ready reports /v2/health/ready.
func (c *HTTPClient) Ready(ctx context.Context) (bool, error) {
	return c.health(ctx, "server ready", "/v2/health/ready")
}

// ModelReady reports /v2/models/<m>/ready. Triton answers a model that is
// not ready (or unknown) with 400, which is "no", not a failure.
func (c *HTTPClient) ModelReady(ctx context.Context, model, version string) (bool, error) {
	_, err := c.roundTrip(ctx, "model ready "+model, http.MethodGet, modelPath(model, version)+"/ready", nil)
	var he *HTTPError
	if errors.As(err, &he) && (he.Status == http.StatusBadRequest || he.Status == http.StatusNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ServerMetadata reads /v2.
func (c *HTTPClient) ServerMetadata(ctx context.Context) (*pb.ServerMetadataResponse, error) {
	var m struct {
		Name       string   `json:"name"`
		Version    string   `json:"version"`
		Extensions []string `json:"extensions"`
	}
	if err := c.getJSON(ctx, "server metadata", "/v2", &m); err != nil {
		return nil, err
	}
	return &pb.ServerMetadataResponse{Name: m.Name, Version: m.Version, Extensions: m.Extensions}, nil
}

// ModelMetadata reads /v2/models/<m>[/versions/<v>].
func (c *HTTPClient) ModelMetadata(ctx context.Context, model, version string) (*pb.ModelMetadataResponse, error) {
	type tensor struct {
		Name     string  `json:"name"`
		Datatype string  `json:"datatype"`
		Shape    []int64 `json:"shape"`
	}
	var m struct {
		Name     string   `json:"name"`
		Versions []string `json:"versions"`
		Platform string   `json:"platform"`
		Inputs   []tensor `json:"inputs"`
		Outputs  []tensor `json:"outputs"`
	}
	if err := c.getJSON(ctx, "model metadata "+model, modelPath(model, version), &m); err != nil {
		return nil, err
	}
	out := &pb.ModelMetadataResponse{Name: m.Name, Versions: m.Versions, Platform: m.Platform}
	for _, t := range m.Inputs {
		out.Inputs = append(out.Inputs, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	for _, t := range m.Outputs {
		out.Outputs = append(out.Outputs, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	return out, nil
}

// ModelConfig reads /v2/models/<m>/config (Triton's model configuration
// extension: the ModelConfig protobuf in JSON).
func (c *HTTPClient) ModelConfig(ctx context.Context, model, version string) (*pb.ModelConfig, error) {
	op := "model config " + model
	b, err := c.roundTrip(ctx, op, http.MethodGet, modelPath(model, version)+"/config", nil)
	if err != nil {
		return nil, err
	}
	cfg := &pb.ModelConfig{}
	if err := protoIn.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("%s at %s: the response is not a model configuration: %w", op, c.Addr(), err)
	}
	return cfg, nil
}

// Statistics reads /v2/models[/<m>[/versions/<v>]]/stats (Triton's
// statistics extension).
func (c *HTTPClient) Statistics(ctx context.Context, model, version string) ([]*pb.ModelStatistics, error) {
	op := "model statistics " + model
	p := "/v2/models/stats"
	if model != "" {
		p = modelPath(model, version) + "/stats"
	}
	b, err := c.roundTrip(ctx, op, http.MethodGet, p, nil)
	if err != nil {
		return nil, err
	}
	r := &pb.ModelStatisticsResponse{}
	if err := protoIn.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s at %s: the response is not model statistics: %w", op, c.Addr(), err)
	}
	return r.GetModelStats(), nil
}

// Index lists the repository (POST /v2/repository/index).
func (c *HTTPClient) Index(ctx context.Context) ([]*pb.RepositoryIndexResponse_ModelIndex, error) {
	b, err := c.roundTrip(ctx, "repository index", http.MethodPost, "/v2/repository/index", []byte("{}"))
	if err != nil {
		return nil, err
	}
	var ms []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		State   string `json:"state"`
		Reason  string `json:"reason"`
	}
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("repository index at %s: the response is not the protocol's JSON: %w", c.Addr(), err)
	}
	out := make([]*pb.RepositoryIndexResponse_ModelIndex, 0, len(ms))
	for _, m := range ms {
		out = append(out, &pb.RepositoryIndexResponse_ModelIndex{Name: m.Name, Version: m.Version, State: m.State, Reason: m.Reason})
	}
	return out, nil
}

// Load loads or reloads a model (POST /v2/repository/models/<m>/load). A
// non-nil cfg goes in the "config" parameter as JSON text, as Triton's
// HTTP repository extension takes it; Triton needs explicit model control
// mode for this.
func (c *HTTPClient) Load(ctx context.Context, model string, cfg *pb.ModelConfig) error {
	body := []byte("{}")
	if cfg != nil {
		js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(cfg)
		if err != nil {
			return fmt.Errorf("encode config of %s: %w", model, err)
		}
		body, err = json.Marshal(map[string]any{"parameters": map[string]string{"config": string(js)}})
		if err != nil {
			return fmt.Errorf("encode config of %s: %w", model, err)
		}
	}
	_, err := c.roundTrip(ctx, "load "+model, http.MethodPost, "/v2/repository/models/"+url.PathEscape(model)+"/load", body)
	return err
}

// Unload unloads a model (POST /v2/repository/models/<m>/unload).
func (c *HTTPClient) Unload(ctx context.Context, model string) error {
	_, err := c.roundTrip(ctx, "unload "+model, http.MethodPost, "/v2/repository/models/"+url.PathEscape(model)+"/unload", []byte("{}"))
	return err
}

// connSet tracks the connections a transport dialed, so that Close can
// end requests in flight (the transport only closes idle ones).
type connSet struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	closed bool
	dials  int // connections made in all: keep-alive keeps this at the pool's size
}

func (s *connSet) dialer(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			c.Close()
			return nil, net.ErrClosed
		}
		tc := &trackedConn{Conn: c, set: s}
		s.m[tc] = struct{}{}
		s.dials++
		return tc, nil
	}
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := make([]net.Conn, 0, len(s.m))
	for c := range s.m {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

type trackedConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.m, c)
		c.set.mu.Unlock()
	})
	return c.Conn.Close()
}
