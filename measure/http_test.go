package measure

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/workload"
)

// startHTTPServer starts an embedded server with its KServe v2 REST
// endpoint on a free loopback port.
func startHTTPServer(t testing.TB, opts server.Options) *server.Server {
	t.Helper()
	opts.Addr, opts.HTTPAddr, opts.MetricsAddr, opts.Logger = "127.0.0.1:0", "127.0.0.1:0", "off", quietLogger()
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

// The load loop over HTTP, in every mode it has over gRPC unary, with
// both tensor encodings: the server's statistics (read over HTTP too)
// count the requests the client measured.
func TestLoadOverHTTP(t *testing.T) {
	cases := []struct {
		name string
		set  func(*Options)
	}{
		{"closed-binary", func(o *Options) { o.Clients, o.Concurrency = 2, 2 }},
		{"closed-json", func(o *Options) { o.Clients, o.Conn.HTTPEncoding = 2, client.EncodingJSON }},
		{"closed-shared", func(o *Options) { o.Clients, o.Concurrency, o.SharedConnection = 3, 2, true }},
		{"open-constant", func(o *Options) { o.Mode, o.Clients, o.Rate = workload.ModeOpen, 2, 200 }},
		{"open-poisson-json", func(o *Options) {
			o.Mode, o.Arrival, o.Rate, o.Conn.HTTPEncoding = workload.ModeOpen, workload.ArrivalPoisson, 300, client.EncodingJSON
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startHTTPServer(t, server.Options{})
			o := quick(srv.HTTPURL(), "mlp")
			o.BatchSize = 8
			tc.set(&o)
			m, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if m.Requests < 20 || m.Errors != 0 || m.Incomplete || m.Inferences != 8*m.Requests {
				t.Fatalf("requests %d inferences %d errors %d incomplete %v", m.Requests, m.Inferences, m.Errors, m.Incomplete)
			}
			enc := o.Conn.HTTPEncoding
			if enc == "" {
				enc = client.EncodingBinary
			}
			if c := m.Connection; c == nil || c.Protocol != "http" || c.TLS || c.Encoding != enc {
				t.Errorf("connection %+v, want http with %s tensors", m.Connection, enc)
			}
			if s := m.Server; s == nil || !(within(float64(s.RequestCount), float64(m.Requests), 0.1) || raceEnabled) || s.ComputeInferUS <= 0 {
				t.Errorf("server breakdown %+v does not match %d requests", m.Server, m.Requests)
			}
		})
	}
}

// Typed inputs: INT32 (simple), BYTES holding numbers (simple_string,
// the user's data in every element) and random BYTES of a given length
// (simple_identity, whose variable dimension comes from Shapes).
func TestTypedInputs(t *testing.T) {
	srv := startHTTPServer(t, server.Options{})
	for _, addr := range []string{srv.Addr(), srv.HTTPURL()} {
		for _, tc := range []struct {
			model string
			set   func(*Options)
		}{
			{"simple", func(o *Options) { o.BatchSize = 8 }},
			{"simple_string", func(o *Options) { o.StringData = "42" }},
			{"simple_identity", func(o *Options) { o.StringLength, o.Shapes = 64, map[string][]int64{"INPUT0": {4}} }},
		} {
			for _, enc := range []string{client.EncodingBinary, client.EncodingJSON} {
				o := quick(addr, tc.model)
				o.Requests, o.Warmup, o.Conn.HTTPEncoding = 40, 0, enc
				tc.set(&o)
				m, err := Run(context.Background(), o)
				if err != nil {
					t.Fatalf("%s %s %s: %v", addr, tc.model, enc, err)
				}
				if m.Requests != 40 || m.Errors != 0 {
					t.Errorf("%s %s %s: requests %d errors %d", addr, tc.model, enc, m.Requests, m.Errors)
				}
			}
		}
	}
	// Random letters are not numbers: simple_string refuses them, and the
	// measurement says so before measuring anything.
	o := quick(srv.HTTPURL(), "simple_string")
	m, err := Run(context.Background(), o)
	if err == nil || m != nil || !strings.Contains(err.Error(), "not a decimal integer") {
		t.Errorf("random strings into simple_string: %v, %v; want the server's refusal", m, err)
	}
	// The generated data follows the datatype: a random BYTES element is
	// StringLength letters and digits.
	opts, _ := Options{Addrs: []string{"x:1"}, Model: "m", StringLength: 5}.withDefaults()
	raw := randomTensor(newTestRNG(), "BYTES", 3, &opts)
	elems, err := client.DecodeBytes(raw)
	if err != nil || len(elems) != 3 || len(elems[0]) != 5 || strings.Trim(string(elems[2]), stringChars) != "" {
		t.Errorf("random BYTES = %q, %v", elems, err)
	}
}

// Stateful sequences over unary HTTP requests: the sequence parameters
// change per request while the rest of the body is reused.
func TestSequencesOverHTTP(t *testing.T) {
	srv := startHTTPServer(t, server.Options{})
	o := quick(srv.HTTPURL(), "snapshotter")
	o.Sequence, o.InferenceRate, o.Clients, o.DataSeconds, o.Warmup = true, 16, 2, 4, 0
	m, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 64 || m.Errors != 0 || m.Server == nil || m.Server.RequestCount != 64 {
		t.Errorf("requests %d errors %d server %+v, want 64 (4 s × r 16)", m.Requests, m.Errors, m.Server)
	}
	o.RPC = workload.RPCStream
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no streaming") {
		t.Errorf("stream over HTTP: %v, want a refusal", err)
	}
}

// A server that requires a token: without a header the measurement stops
// before measuring, naming the missing credentials and how to pass them;
// with -H 'Authorization: Bearer …' (here from the environment) it runs,
// and the token is nowhere in what it returns.
func TestTokenOverBothProtocols(t *testing.T) {
	const token = "tok-9f8e7d6c5b4a"
	srv := startHTTPServer(t, server.Options{AuthToken: token})
	for _, addr := range []string{srv.Addr(), srv.HTTPURL()} {
		o := quick(addr, "mlp")
		m, err := Run(context.Background(), o)
		if err == nil || m != nil || !strings.Contains(err.Error(), "missing credentials") || !strings.Contains(err.Error(), "-H 'Authorization: Bearer") {
			t.Errorf("%s without a token: %v, %v", addr, m, err)
		}
		o.Conn.Headers = []client.Header{{Name: "Authorization", Value: "Bearer wrong"}}
		if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "invalid credentials") || strings.Contains(err.Error(), "wrong") {
			t.Errorf("%s with a wrong token: %v", addr, err)
		}
		t.Setenv("MEASURE_TEST_TOKEN", token)
		o.Conn.Headers = []client.Header{{Name: "Authorization", Value: "Bearer ${MEASURE_TEST_TOKEN}"}}
		m, err = Run(context.Background(), o)
		if err != nil || m.Requests == 0 {
			t.Fatalf("%s with the token: %v", addr, err)
		}
		b, _ := json.Marshal(m)
		if strings.Contains(string(b), token) || strings.Contains(string(b), "MEASURE_TEST_TOKEN") {
			t.Errorf("the measurement holds the token: %s", b)
		}
		if c := m.Connection; c == nil || len(c.Headers) != 1 || c.Headers[0] != "authorization" {
			t.Errorf("connection %+v, want the header's name recorded", m.Connection)
		}
	}
}

// A server that dies mid-window over HTTP ends the measurement with an
// error (the requests in flight are not waited for forever), keeping what
// was measured.
func TestHTTPServerDiesMidWindow(t *testing.T) {
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MetricsAddr: "off", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	o := quick(srv.HTTPURL(), "mlp")
	o.Clients, o.Duration = 2, 3*time.Second
	// 300 ms after the warm-up began, counted from the first answered
	// request, so that something was measured however slowly it started.
	go func() {
		waitForAnswers(srv.Addr(), "mlp", 0)
		time.Sleep(o.Warmup + 300*time.Millisecond)
		srv.Stop()
	}()
	m, err := Run(context.Background(), o)
	if err == nil || m == nil || !m.Incomplete || m.Requests == 0 {
		t.Fatalf("err %v measurement %+v: want an incomplete measurement and the error", err, m)
	}
	t.Logf("%v; %d requests kept", err, m.Requests)
}

func TestAddressErrors(t *testing.T) {
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := lis.Addr().String()
	lis.Close()
	for _, c := range []struct{ addr, want string }{
		{"tcp://" + addr, `unknown scheme "tcp"`},
		{"https://" + addr, "unreachable"},
		{"http://" + addr, "connection refused"},
	} {
		m, err := Run(context.Background(), quick(c.addr, "mlp"))
		if err == nil || m != nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q and nothing measured", c.addr, err, c.want)
		}
	}
	o := quick("grpc://"+addr+","+"http://"+addr, "mlp")
	o.Addrs = []string{"grpc://" + addr, "http://" + addr}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "different protocols") {
		t.Errorf("mixed protocols: %v", err)
	}
	o = quick("http://"+addr, "mlp")
	o.Conn.CACert = "ca.pem"
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Errorf("CA for a plaintext address: %v", err)
	}
	o = quick("http://"+addr, "mlp")
	o.MetricsURLs = []string{"grpc://x:1"}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "metrics URL") {
		t.Errorf("bad metrics URL: %v", err)
	}
}

func newTestRNG() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
