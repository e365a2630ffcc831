// Package client speaks Triton's inference protocols to a server: gRPC
// (KServe v2 plus Triton's extensions; Client) and KServe v2 HTTP/REST
// with Triton's binary tensor extension (HTTPClient), both behind Conn so
// that measure, sweep and profile work over either. It speaks to a real
// Triton and to iaasbench's embedded server alike. Addresses have one
// syntax everywhere (ParseEndpoint); TLS and headers come in Settings.
// The request path avoids allocation where the protocol allows: requests
// are built once and reused (NewCall), responses are read into buffers
// the call owns.
package client

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec timedCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Client is a gRPC connection to one inference server.
type Client struct {
	conn *grpc.ClientConn
	rpc  pb.GRPCInferenceServiceClient
	addr string
	ep   Endpoint
}

// Dial connects to addr (host:port) over plaintext gRPC, with extra dial
// options. The connection is made lazily; call Live or Ready to check the
// server is there. Connect takes every address syntax, TLS and headers.
func Dial(addr string, opts ...grpc.DialOption) (*Client, error) {
	ep, target := Endpoint{Protocol: GRPC, Host: addr}, addr
	if e, err := ParseEndpoint(addr); err == nil && e.Protocol == GRPC {
		ep, target = e, e.Host
	}
	c, err := dial(ep, target, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if c != nil {
		c.addr = addr
	}
	return c, err
}

func dial(ep Endpoint, target string, opts ...grpc.DialOption) (*Client, error) {
	base := []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)),
		grpc.WithInitialWindowSize(4 << 20),
		grpc.WithInitialConnWindowSize(16 << 20),
	}
	conn, err := grpc.NewClient(target, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", ep, err)
	}
	return &Client{conn: conn, rpc: pb.NewGRPCInferenceServiceClient(conn), addr: target, ep: ep}, nil
}

// dialGRPC connects with Settings: TLS, authority and headers (as
// metadata on every call, streams included).
func dialGRPC(e Endpoint, s Settings, hs []resolvedHeader, tc *tls.Config) (*Client, error) {
	var opts []grpc.DialOption
	if tc != nil {
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if a := s.authority(hs); a != "" {
		opts = append(opts, grpc.WithAuthority(a))
	}
	md := map[string]string{}
	for _, h := range hs {
		if h.name != "host" {
			md[h.name] = h.value
		}
	}
	if len(md) > 0 {
		opts = append(opts, grpc.WithPerRPCCredentials(metadataCreds(md)))
	}
	c, err := dial(e, e.Host, opts...)
	if err != nil {
		return nil, err
	}
	c.addr = e.String()
	if !e.TLS {
		c.addr = e.Host
	}
	return c, nil
}

// metadataCreds adds fixed metadata to every call. It does not require
// transport security: the user chose the address, and a plaintext
// endpoint on loopback or inside a cluster is common.
type metadataCreds map[string]string

func (m metadataCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return m, nil
}

func (m metadataCreds) RequireTransportSecurity() bool { return false }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Addr is the server address.
func (c *Client) Addr() string { return c.addr }

// Endpoint is where the connection goes.
func (c *Client) Endpoint() Endpoint { return c.ep }

// RPC exposes the generated stub for calls this client does not wrap.
func (c *Client) RPC() pb.GRPCInferenceServiceClient { return c.rpc }

// Conn exposes the underlying connection.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

func wrap(what, addr string, err error) error {
	if err == nil {
		return nil
	}
	if h := tlsHint(status.Convert(err).Message()); h != "" {
		return fmt.Errorf("%s at %s: %w%s", what, addr, err, h)
	}
	return fmt.Errorf("%s at %s: %w", what, addr, err)
}

// Live reports ServerLive.
func (c *Client) Live(ctx context.Context) (bool, error) {
	r, err := c.rpc.ServerLive(ctx, &pb.ServerLiveRequest{})
	return r.GetLive(), wrap("server live", c.addr, err)
}

// Ready reports ServerReady.
func (c *Client) Ready(ctx context.Context) (bool, error) {
	r, err := c.rpc.ServerReady(ctx, &pb.ServerReadyRequest{})
	return r.GetReady(), wrap("server ready", c.addr, err)
}

// ModelReady reports whether a model version ("" = latest) is ready.
func (c *Client) ModelReady(ctx context.Context, model, version string) (bool, error) {
	r, err := c.rpc.ModelReady(ctx, &pb.ModelReadyRequest{Name: model, Version: version})
	return r.GetReady(), wrap("model ready "+model, c.addr, err)
}

// ServerMetadata returns the server's name, version and extensions.
func (c *Client) ServerMetadata(ctx context.Context) (*pb.ServerMetadataResponse, error) {
	r, err := c.rpc.ServerMetadata(ctx, &pb.ServerMetadataRequest{})
	return r, wrap("server metadata", c.addr, err)
}

// ModelMetadata describes a model's tensors.
func (c *Client) ModelMetadata(ctx context.Context, model, version string) (*pb.ModelMetadataResponse, error) {
	r, err := c.rpc.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: model, Version: version})
	return r, wrap("model metadata "+model, c.addr, err)
}

// ModelConfig returns the configuration a model runs with.
func (c *Client) ModelConfig(ctx context.Context, model, version string) (*pb.ModelConfig, error) {
	r, err := c.rpc.ModelConfig(ctx, &pb.ModelConfigRequest{Name: model, Version: version})
	return r.GetConfig(), wrap("model config "+model, c.addr, err)
}

// Statistics returns cumulative statistics of a model ("" = all models).
func (c *Client) Statistics(ctx context.Context, model, version string) ([]*pb.ModelStatistics, error) {
	r, err := c.rpc.ModelStatistics(ctx, &pb.ModelStatisticsRequest{Name: model, Version: version})
	return r.GetModelStats(), wrap("model statistics "+model, c.addr, err)
}

// Index lists the models of the server's repository.
func (c *Client) Index(ctx context.Context) ([]*pb.RepositoryIndexResponse_ModelIndex, error) {
	r, err := c.rpc.RepositoryIndex(ctx, &pb.RepositoryIndexRequest{})
	return r.GetModels(), wrap("repository index", c.addr, err)
}

// Load loads or reloads a model. A non-nil cfg replaces the model's
// configuration (sent as JSON in the "config" parameter, as Triton's
// load-with-config expects); Triton needs the server in explicit model
// control mode for this.
func (c *Client) Load(ctx context.Context, model string, cfg *pb.ModelConfig) error {
	req := &pb.RepositoryModelLoadRequest{ModelName: model}
	if cfg != nil {
		js, err := protojson.Marshal(cfg)
		if err != nil {
			return fmt.Errorf("encode config of %s: %w", model, err)
		}
		req.Parameters = map[string]*pb.ModelRepositoryParameter{
			"config": {ParameterChoice: &pb.ModelRepositoryParameter_StringParam{StringParam: string(js)}},
		}
	}
	_, err := c.rpc.RepositoryModelLoad(ctx, req)
	return wrap("load "+model, c.addr, err)
}

// Unload unloads a model.
func (c *Client) Unload(ctx context.Context, model string) error {
	_, err := c.rpc.RepositoryModelUnload(ctx, &pb.RepositoryModelUnloadRequest{ModelName: model})
	return wrap("unload "+model, c.addr, err)
}

// Infer sends one request and returns the response.
func (c *Client) Infer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	r, err := c.rpc.ModelInfer(ctx, req)
	if err != nil {
		if h := tlsHint(status.Convert(err).Message()); h != "" {
			return nil, fmt.Errorf("%w%s", err, h)
		}
	}
	return r, err
}

// NewCall prepares req for repeated sending: the call owns a response
// message that every Do decodes into.
func (c *Client) NewCall(req *pb.ModelInferRequest) (Call, error) {
	g := &grpcCall{c: c, req: req, resp: &pb.ModelInferResponse{}, codec: &timedCodec{base: encoding.GetCodecV2(protoCodecName)}}
	g.opts = []grpc.CallOption{grpc.ForceCodecV2(g.codec)}
	return g, nil
}

type grpcCall struct {
	c     *Client
	req   *pb.ModelInferRequest
	resp  *pb.ModelInferResponse
	codec *timedCodec
	opts  []grpc.CallOption
}

func (g *grpcCall) Do(ctx context.Context) error {
	g.resp.Reset()
	g.codec.send, g.codec.recv = 0, 0
	return g.c.conn.Invoke(ctx, pb.GRPCInferenceService_ModelInfer_FullMethodName, g.req, g.resp, g.opts...)
}

// Response is the last Do's response, decoded by Do already.
func (g *grpcCall) Response() (*pb.ModelInferResponse, error) { return g.resp, nil }

// Times are the last Do's marshal and unmarshal times.
func (g *grpcCall) Times() CallTimes { return CallTimes{Send: g.codec.send, Recv: g.codec.recv} }

// protoCodecName is the name gRPC registers its protobuf codec under.
const protoCodecName = "proto"

// timedCodec is gRPC's protobuf codec, timed: what perf_analyzer calls
// the gRPC client's (un)marshal time. A unary call marshals and
// unmarshals on the calling goroutine, so one call's codec needs no lock.
type timedCodec struct {
	base       encoding.CodecV2
	send, recv time.Duration
}

func (t *timedCodec) Marshal(v any) (mem.BufferSlice, error) {
	t0 := time.Now()
	b, err := t.base.Marshal(v)
	t.send += time.Since(t0)
	return b, err
}

func (t *timedCodec) Unmarshal(data mem.BufferSlice, v any) error {
	t0 := time.Now()
	err := t.base.Unmarshal(data, v)
	t.recv += time.Since(t0)
	return err
}

func (t *timedCodec) Name() string { return t.base.Name() }

// InferInto sends one request and decodes the response into resp, which
// the caller may reuse across calls to save an allocation per request.
func (c *Client) InferInto(ctx context.Context, req *pb.ModelInferRequest, resp *pb.ModelInferResponse) error {
	resp.Reset()
	return c.conn.Invoke(ctx, pb.GRPCInferenceService_ModelInfer_FullMethodName, req, resp)
}

// AsyncResult is the outcome of an asynchronous request.
type AsyncResult struct {
	Response *pb.ModelInferResponse
	Err      error
}

// InferAsync sends a request without waiting; the result arrives on the
// returned channel.
func (c *Client) InferAsync(ctx context.Context, req *pb.ModelInferRequest) <-chan AsyncResult {
	ch := make(chan AsyncResult, 1)
	go func() {
		r, err := c.rpc.ModelInfer(ctx, req)
		ch <- AsyncResult{r, err}
	}()
	return ch
}

// Tensor is a named FP32 tensor.
type Tensor struct {
	Name  string
	Shape []int64
	Data  []float32
}

// NewRequest builds an FP32 request with raw_input_contents, the
// encoding Triton's own clients use.
func NewRequest(model string, inputs ...Tensor) *pb.ModelInferRequest {
	req := &pb.ModelInferRequest{ModelName: model}
	for _, t := range inputs {
		req.Inputs = append(req.Inputs, &pb.ModelInferRequest_InferInputTensor{Name: t.Name, Datatype: "FP32", Shape: t.Shape})
		req.RawInputContents = append(req.RawInputContents, EncodeFP32(t.Data))
	}
	return req
}

// SetSequence sets the sequence parameters of a request for a stateful
// model: its correlation id and whether it starts or ends the sequence.
func SetSequence(req *pb.ModelInferRequest, id int64, start, end bool) {
	if req.Parameters == nil {
		req.Parameters = map[string]*pb.InferParameter{}
	}
	req.Parameters["sequence_id"] = &pb.InferParameter{ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: id}}
	req.Parameters["sequence_start"] = &pb.InferParameter{ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: start}}
	req.Parameters["sequence_end"] = &pb.InferParameter{ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: end}}
}

// EncodeFP32 encodes little-endian FP32 bytes.
func EncodeFP32(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// DecodeFP32 decodes little-endian FP32 bytes.
func DecodeFP32(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of FP32 values", len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// Output returns the named output of a response as FP32 values with its
// shape, from raw_output_contents or fp32_contents.
func Output(resp *pb.ModelInferResponse, name string) (Tensor, error) {
	for i, o := range resp.GetOutputs() {
		if o.GetName() != name {
			continue
		}
		if i < len(resp.GetRawOutputContents()) {
			data, err := DecodeFP32(resp.GetRawOutputContents()[i])
			return Tensor{Name: name, Shape: o.GetShape(), Data: data}, err
		}
		return Tensor{Name: name, Shape: o.GetShape(), Data: o.GetContents().GetFp32Contents()}, nil
	}
	return Tensor{}, fmt.Errorf("response of %s has no output %q", resp.GetModelName(), name)
}
