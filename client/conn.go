package client

import (
	"context"
	"fmt"
	"strings"
	"time"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Conn is a connection to one inference server over either protocol:
// what measure's load loop, the sweep's targets and profile use, so that
// everything that works over gRPC works over HTTP. Results come in the
// gRPC protocol's messages, the common vocabulary of both.
type Conn interface {
	// Endpoint is where the connection goes.
	Endpoint() Endpoint
	// Addr is the endpoint as a string, for messages.
	Addr() string

	Live(ctx context.Context) (bool, error)
	Ready(ctx context.Context) (bool, error)
	// ModelReady reports whether a model version ("" = latest) is ready;
	// a model the server does not know is not ready (false, nil).
	ModelReady(ctx context.Context, model, version string) (bool, error)
	ServerMetadata(ctx context.Context) (*pb.ServerMetadataResponse, error)
	ModelMetadata(ctx context.Context, model, version string) (*pb.ModelMetadataResponse, error)
	ModelConfig(ctx context.Context, model, version string) (*pb.ModelConfig, error)
	// Statistics returns cumulative statistics of a model ("" = all).
	Statistics(ctx context.Context, model, version string) ([]*pb.ModelStatistics, error)
	// Index lists the models of the server's repository.
	Index(ctx context.Context) ([]*pb.RepositoryIndexResponse_ModelIndex, error)
	// Load loads or reloads a model; a non-nil cfg overrides its
	// configuration (Triton's load with the "config" parameter).
	Load(ctx context.Context, model string, cfg *pb.ModelConfig) error
	Unload(ctx context.Context, model string) error

	// Infer sends one request and returns the whole response, outputs in
	// RawOutputContents.
	Infer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error)
	// NewCall prepares req for sending again and again from one goroutine
	// (a load generator's slot): what can be encoded once is. The caller
	// may change req's parameter values between calls (a sequence's
	// start and end flags); its tensors must stay as they are.
	NewCall(req *pb.ModelInferRequest) (Call, error)

	Close() error
}

// Call is one prepared request; Do sends it and waits for the response,
// which it checks for success but does not decode. A Call is used by one
// goroutine at a time.
type Call interface {
	Do(ctx context.Context) error
}

// CallTimes are the client's own share of one request's latency, as
// perf_analyzer reports them: over gRPC, the time to marshal the request
// (Send) and to unmarshal the response (Recv); over HTTP, the time from
// the start of the call until the request is written (Send) and from the
// response's first byte until its body is read (Recv).
type CallTimes struct {
	Send, Recv time.Duration
}

// TimedCall is a Call that reports the client times of its last
// successful Do. Every Call made by this package's connections is one.
type TimedCall interface {
	Call
	Times() CallTimes
}

// OutputCall is a Call that gives the response of its last successful
// Do, decoded only when asked, so that a load that does not look at
// outputs pays nothing for it. The response is valid until the next Do.
// Every Call made by this package's connections is one.
type OutputCall interface {
	Call
	Response() (*pb.ModelInferResponse, error)
}

// Connect makes a connection to a server at an address in Endpoint's
// syntax. Like Dial it connects lazily: call Live to check the server is
// there. Headers are expanded from the environment here.
func Connect(addr string, s Settings) (Conn, error) {
	e, err := ParseEndpoint(addr)
	if err != nil {
		return nil, err
	}
	return ConnectEndpoint(e, s)
}

// ConnectEndpoint is Connect with a parsed endpoint.
func ConnectEndpoint(e Endpoint, s Settings) (Conn, error) {
	if err := s.Check(e); err != nil {
		return nil, fmt.Errorf("server %s: %w", e, err)
	}
	hs, err := resolveHeaders(s.Headers)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", e, err)
	}
	tc, err := s.tlsConfig(e, s.authority(hs))
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", e, err)
	}
	switch e.Protocol {
	case HTTP:
		return newHTTP(e, s, hs, tc), nil
	default:
		return dialGRPC(e, s, hs, tc)
	}
}

// tlsHint adds what to do to a certificate failure's message, which
// both protocols report as text.
func tlsHint(msg string) string {
	switch {
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return "; give the CA that signed the server's certificate with --ca-cert (or, to test only, --insecure-skip-verify)"
	case strings.Contains(msg, "certificate is valid for"), strings.Contains(msg, "doesn't contain any IP SANs"):
		return "; the certificate names another host: connect by a name it holds, or check against one with --authority NAME"
	case strings.Contains(msg, "certificate has expired"), strings.Contains(msg, "is not yet valid"):
		return "; the server's certificate is outside its validity period: renew it"
	case strings.Contains(msg, "first record does not look like a TLS handshake"), strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return "; the server does not speak TLS there: use grpc:// or http://"
	case strings.Contains(msg, "HTTP request to an HTTPS server"):
		return "; the server speaks TLS there: use https:// or grpcs://"
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"):
		return "; the server wants a client certificate it trusts: --client-cert and --client-key (mutual TLS)"
	}
	return ""
}

var (
	_ Conn = (*Client)(nil)
	_ Conn = (*HTTPClient)(nil)
)
