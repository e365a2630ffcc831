package client_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/testpki"
	"github.com/iaasbench/iaasbench/server"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serve starts an embedded server with gRPC and HTTP on free loopback
// ports.
func serve(t *testing.T, opts server.Options) *server.Server {
	t.Helper()
	opts.Addr, opts.HTTPAddr, opts.MetricsAddr, opts.Logger = "127.0.0.1:0", "127.0.0.1:0", "off", quiet()
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

func connect(t *testing.T, addr string, s client.Settings) client.Conn {
	t.Helper()
	c, err := client.Connect(addr, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func int32s(v ...int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

func decodeInt32s(t *testing.T, b []byte) []int32 {
	t.Helper()
	if len(b)%4 != 0 {
		t.Fatalf("%d bytes of INT32", len(b))
	}
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// simpleRequest is Triton's simple example: INPUT0 = 0..15, INPUT1 = 1s.
func simpleRequest() *pb.ModelInferRequest {
	a, b := make([]int32, 16), make([]int32, 16)
	for i := range a {
		a[i], b[i] = int32(i), 1
	}
	return &pb.ModelInferRequest{ModelName: "simple", Id: "7",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{
			{Name: "INPUT0", Datatype: "INT32", Shape: []int64{1, 16}},
			{Name: "INPUT1", Datatype: "INT32", Shape: []int64{1, 16}},
		},
		RawInputContents: [][]byte{int32s(a...), int32s(b...)},
	}
}

func output(t *testing.T, r *pb.ModelInferResponse, name string) []byte {
	t.Helper()
	for i, o := range r.GetOutputs() {
		if o.GetName() == name {
			return r.GetRawOutputContents()[i]
		}
	}
	t.Fatalf("no output %s in %v", name, r)
	return nil
}

// endpoints are the three ways to reach one server: gRPC, HTTP with
// binary tensors, HTTP with JSON tensors.
func endpoints(srv *server.Server) []struct {
	name, addr string
	s          client.Settings
} {
	return []struct {
		name, addr string
		s          client.Settings
	}{
		{"grpc", srv.Addr(), client.Settings{}},
		{"http-binary", srv.HTTPURL(), client.Settings{}},
		{"http-json", srv.HTTPURL(), client.Settings{HTTPEncoding: client.EncodingJSON}},
	}
}

// Every call of Conn answers the same over gRPC and over HTTP, with both
// tensor encodings: the oracle is the server's own model, whose outputs
// are known (sum and difference), and the gRPC answer.
func TestConnOverBothProtocols(t *testing.T) {
	srv := serve(t, server.Options{})
	for _, e := range endpoints(srv) {
		t.Run(e.name, func(t *testing.T) {
			c := connect(t, e.addr, e.s)
			ctx := ctx(t)
			if live, err := c.Live(ctx); err != nil || !live {
				t.Fatalf("Live = %v, %v", live, err)
			}
			if ready, err := c.Ready(ctx); err != nil || !ready {
				t.Fatalf("Ready = %v, %v", ready, err)
			}
			md, err := c.ServerMetadata(ctx)
			if err != nil || md.GetName() != "iaasbench" || len(md.GetExtensions()) == 0 {
				t.Fatalf("ServerMetadata = %v, %v", md, err)
			}
			mm, err := c.ModelMetadata(ctx, "simple", "")
			if err != nil {
				t.Fatal(err)
			}
			if len(mm.GetInputs()) != 2 || mm.GetInputs()[0].GetDatatype() != "INT32" || len(mm.GetInputs()[0].GetShape()) != 2 || mm.GetInputs()[0].GetShape()[1] != 16 {
				t.Errorf("ModelMetadata(simple) = %v", mm)
			}
			cfg, err := c.ModelConfig(ctx, "simple", "")
			if err != nil || cfg.GetMaxBatchSize() != 8 || cfg.GetInput()[0].GetDataType() != pb.DataType_TYPE_INT32 {
				t.Fatalf("ModelConfig(simple) = %v, %v", cfg, err)
			}
			if ok, err := c.ModelReady(ctx, "no-such-model", ""); err != nil || ok {
				t.Errorf("ModelReady(no-such-model) = %v, %v; want false, nil", ok, err)
			}
			before, err := c.Statistics(ctx, "simple", "")
			if err != nil || len(before) != 1 {
				t.Fatalf("Statistics = %v, %v", before, err)
			}

			r, err := c.Infer(ctx, simpleRequest())
			if err != nil {
				t.Fatal(err)
			}
			sum, diff := decodeInt32s(t, output(t, r, "OUTPUT0")), decodeInt32s(t, output(t, r, "OUTPUT1"))
			for i := range sum {
				if sum[i] != int32(i)+1 || diff[i] != int32(i)-1 {
					t.Fatalf("element %d: sum %d diff %d, want %d and %d", i, sum[i], diff[i], i+1, i-1)
				}
			}
			if r.GetId() != "7" || r.GetModelName() != "simple" {
				t.Errorf("response id %q model %q", r.GetId(), r.GetModelName())
			}

			// A prepared call sent again and again.
			call, err := c.NewCall(simpleRequest())
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 50; i++ {
				if err := call.Do(ctx); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			after, err := c.Statistics(ctx, "simple", "")
			if err != nil {
				t.Fatal(err)
			}
			if got := after[0].GetInferenceStats().GetSuccess().GetCount() - before[0].GetInferenceStats().GetSuccess().GetCount(); got != 51 {
				t.Errorf("statistics count %d successes, want 51", got)
			}

			// BYTES: simple_string computes on decimal strings,
			// simple_identity returns its input.
			strs := func(v ...string) []byte {
				var e [][]byte
				for _, s := range v {
					e = append(e, []byte(s))
				}
				return client.EncodeBytes(e)
			}
			var a, b []string
			for i := 0; i < 16; i++ {
				a, b = append(a, strconv.Itoa(i)), append(b, "2")
			}
			sr, err := c.Infer(ctx, &pb.ModelInferRequest{ModelName: "simple_string",
				Inputs: []*pb.ModelInferRequest_InferInputTensor{
					{Name: "INPUT0", Datatype: "BYTES", Shape: []int64{1, 16}},
					{Name: "INPUT1", Datatype: "BYTES", Shape: []int64{1, 16}},
				}, RawInputContents: [][]byte{strs(a...), strs(b...)}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := client.DecodeBytes(output(t, sr, "OUTPUT0"))
			if err != nil || len(got) != 16 || string(got[15]) != "17" || string(got[0]) != "2" {
				t.Errorf("simple_string OUTPUT0 = %q, %v", got, err)
			}
			words := []string{"héllo", `quote " and \ back`, "tab\tnew\nline", ""}
			ir, err := c.Infer(ctx, &pb.ModelInferRequest{ModelName: "simple_identity",
				Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "INPUT0", Datatype: "BYTES", Shape: []int64{1, 4}}},
				RawInputContents: [][]byte{strs(words...)}})
			if err != nil {
				t.Fatal(err)
			}
			echo, err := client.DecodeBytes(output(t, ir, "OUTPUT0"))
			if err != nil || len(echo) != 4 {
				t.Fatalf("simple_identity = %q, %v", echo, err)
			}
			for i := range words {
				if string(echo[i]) != words[i] {
					t.Errorf("simple_identity element %d = %q, want %q", i, echo[i], words[i])
				}
			}

			// A bad request is refused as InvalidArgument on both protocols.
			bad := simpleRequest()
			bad.Inputs[0].Shape = []int64{1, 15}
			_, err = c.Infer(ctx, bad)
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("bad shape: %v (code %v), want InvalidArgument", err, status.Code(err))
			}
			if _, err := c.Infer(ctx, &pb.ModelInferRequest{ModelName: "nope", Inputs: bad.Inputs, RawInputContents: bad.RawInputContents}); err == nil {
				t.Error("an unknown model answered")
			}

			// The repository: a config override changes the instance count,
			// unload makes the model unready.
			idx, err := c.Index(ctx)
			if err != nil || len(idx) == 0 {
				t.Fatalf("Index = %v, %v", idx, err)
			}
			cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: 3, Kind: pb.ModelInstanceGroup_KIND_CPU}}
			if err := c.Load(ctx, "simple", cfg); err != nil {
				t.Fatal(err)
			}
			cfg2, err := c.ModelConfig(ctx, "simple", "")
			if err != nil || len(cfg2.GetInstanceGroup()) != 1 || cfg2.GetInstanceGroup()[0].GetCount() != 3 {
				t.Fatalf("after load with 3 instances: %v, %v", cfg2.GetInstanceGroup(), err)
			}
			if err := c.Unload(ctx, "simple"); err != nil {
				t.Fatal(err)
			}
			if ok, err := c.ModelReady(ctx, "simple", ""); err != nil || ok {
				t.Errorf("after unload ModelReady = %v, %v", ok, err)
			}
			if err := c.Load(ctx, "simple", nil); err != nil {
				t.Fatal(err)
			}
			if ok, err := c.ModelReady(ctx, "simple", ""); err != nil || !ok {
				t.Errorf("after load ModelReady = %v, %v", ok, err)
			}
		})
	}
}

// A server that requires a token: without it every call fails naming the
// missing credentials; with it, as a header written as ${VAR}, every call
// succeeds; the token shows in no error.
func TestBearerToken(t *testing.T) {
	const token = "s3cr3t-t0k3n"
	srv := serve(t, server.Options{AuthToken: token})
	for _, e := range endpoints(srv)[:2] {
		t.Run(e.name, func(t *testing.T) {
			ctx := ctx(t)
			c := connect(t, e.addr, client.Settings{})
			_, err := c.Live(ctx)
			if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "missing credentials") {
				t.Errorf("no token: %v (code %v), want Unauthenticated naming the missing credentials", err, status.Code(err))
			}
			_, err = c.Infer(ctx, simpleRequest())
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("infer without token: %v", err)
			}

			wrong := connect(t, e.addr, client.Settings{Headers: []client.Header{{Name: "Authorization", Value: "Bearer expired-token"}}})
			_, err = wrong.Live(ctx)
			if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "invalid credentials") || strings.Contains(err.Error(), "expired-token") {
				t.Errorf("wrong token: %v", err)
			}

			t.Setenv("IAASBENCH_TEST_TOKEN", token)
			ok := connect(t, e.addr, client.Settings{Headers: []client.Header{{Name: "Authorization", Value: "Bearer ${IAASBENCH_TEST_TOKEN}"}}})
			if live, err := ok.Live(ctx); err != nil || !live {
				t.Fatalf("with token: %v, %v", live, err)
			}
			call, err := ok.NewCall(simpleRequest())
			if err != nil {
				t.Fatal(err)
			}
			if err := call.Do(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Connect(e.addr, client.Settings{Headers: []client.Header{{Name: "Authorization", Value: "Bearer ${IAASBENCH_TEST_UNSET}"}}}); err == nil ||
				!strings.Contains(err.Error(), "IAASBENCH_TEST_UNSET is not set") {
				t.Errorf("unset variable: %v", err)
			}
		})
	}
}

func tlsServer(t *testing.T, cert, key, clientCA string) *server.Server {
	t.Helper()
	cfg, err := server.LoadTLS(cert, key, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, server.Options{TLS: cfg})
}

// tlsEndpoints are the TLS forms of a server's two endpoints.
func tlsEndpoints(srv *server.Server) []string {
	return []string{"grpcs://" + srv.Addr(), srv.HTTPURL()}
}

func TestTLS(t *testing.T) {
	p := testpki.New(t)
	srv := tlsServer(t, p.ServerCert, p.ServerKey, "")
	for _, addr := range tlsEndpoints(srv) {
		t.Run(strings.Split(addr, ":")[0], func(t *testing.T) {
			ctx := ctx(t)
			// Verified against the test's CA; also by name (localhost)
			// through --authority.
			for _, s := range []client.Settings{{CACert: p.CAFile}, {CACert: p.CAFile, Authority: "localhost"}} {
				c := connect(t, addr, s)
				if _, err := c.Infer(ctx, simpleRequest()); err != nil {
					t.Fatalf("%+v: %v", s, err)
				}
			}
			// Unknown CA: one line saying what to do.
			_, err := connect(t, addr, client.Settings{}).Live(ctx)
			if err == nil || !strings.Contains(err.Error(), "unknown authority") || !strings.Contains(err.Error(), "--ca-cert") || strings.Contains(err.Error(), "\n") {
				t.Errorf("unknown CA: %v", err)
			}
			// A name the certificate does not hold.
			_, err = connect(t, addr, client.Settings{CACert: p.CAFile, Authority: "other.example.com"}).Live(ctx)
			if err == nil || !strings.Contains(err.Error(), "--authority") {
				t.Errorf("wrong name: %v", err)
			}
			// Not verified: works, but only when asked.
			if _, err := connect(t, addr, client.Settings{InsecureSkipVerify: true}).Live(ctx); err != nil {
				t.Errorf("insecure-skip-verify: %v", err)
			}
			// Plaintext to a TLS server fails (clearly, for HTTP).
			plain := strings.Replace(strings.Replace(addr, "grpcs://", "grpc://", 1), "https://", "http://", 1)
			if _, err := connect(t, plain, client.Settings{}).Live(ctx); err == nil {
				t.Errorf("plaintext to a TLS server answered")
			}
		})
	}
	// A CA file that holds no certificate, or is missing.
	if _, err := client.Connect(srv.HTTPURL(), client.Settings{CACert: p.ServerKey}); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("bad CA file: %v", err)
	}
	if _, err := client.Connect(srv.HTTPURL(), client.Settings{CACert: filepath.Join(p.Dir, "missing.pem")}); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing CA file: %v", err)
	}
}

func TestTLSExpiredAndMutual(t *testing.T) {
	p := testpki.New(t)
	expired := tlsServer(t, p.ExpiredCert, p.ExpiredKey, "")
	for _, addr := range tlsEndpoints(expired) {
		_, err := connect(t, addr, client.Settings{CACert: p.CAFile}).Live(ctx(t))
		if err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("%s with an expired certificate: %v", addr, err)
		}
	}
	mutual := tlsServer(t, p.ServerCert, p.ServerKey, p.CAFile)
	for _, addr := range tlsEndpoints(mutual) {
		if _, err := connect(t, addr, client.Settings{CACert: p.CAFile}).Live(ctx(t)); err == nil {
			t.Errorf("%s: mutual TLS server answered a client without a certificate", addr)
		}
		c := connect(t, addr, client.Settings{CACert: p.CAFile, ClientCert: p.ClientCert, ClientKey: p.ClientKey})
		if _, err := c.Infer(ctx(t), simpleRequest()); err != nil {
			t.Errorf("%s with a client certificate: %v", addr, err)
		}
	}
}

// An HTTP error maps to the gRPC code of the same failure and says
// whether the server refused for overload.
func TestHTTPErrorClassification(t *testing.T) {
	for _, c := range []struct {
		status   int
		code     codes.Code
		rejected bool
	}{
		{400, codes.InvalidArgument, false}, {401, codes.Unauthenticated, false}, {404, codes.NotFound, false},
		{429, codes.ResourceExhausted, true}, {503, codes.Unavailable, true}, {500, codes.Internal, false},
	} {
		var err error = &client.HTTPError{Op: "infer m", Addr: "http://h:1", Status: c.status, Message: "x"}
		err = errors.Join(errors.New("wrapped"), err)
		if status.Code(err) != c.code {
			t.Errorf("HTTP %d: code %v, want %v", c.status, status.Code(err), c.code)
		}
		var he *client.HTTPError
		if !errors.As(err, &he) || he.Rejected() != c.rejected {
			t.Errorf("HTTP %d: rejected %v, want %v", c.status, he.Rejected(), c.rejected)
		}
	}
}
