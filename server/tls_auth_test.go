package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/server"
)

// pki is a CA made for one test, with a server certificate for 127.0.0.1
// and a client certificate, written as PEM files.
type pki struct {
	ca                   *x509.Certificate
	caKey                *ecdsa.PrivateKey
	pool                 *x509.CertPool
	caFile               string
	certFile, keyFile    string
	client               tls.Certificate
	clientCert, clientKy string
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", der)
	p.certFile, p.keyFile, _ = p.issue(t, dir, "server", x509.ExtKeyUsageServerAuth)
	var c tls.Certificate
	p.clientCert, p.clientKy, c = p.issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	p.client = c
	return p
}

func (p *pki) issue(t *testing.T, dir, who string, usage x509.ExtKeyUsage) (certFile, keyFile string, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "iaasbench " + who},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writePEM(t, dir, who+".pem", "CERTIFICATE", der)
	keyFile = writePEM(t, dir, who+"-key.pem", "EC PRIVATE KEY", kder)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pair
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// grpcSuite is the gRPC protocol's conformance checks (KServe v2 health,
// metadata and inference; Triton's configuration, statistics and
// repository extensions) against one connection.
func grpcSuite(t *testing.T, c *client.Client) {
	t.Helper()
	ctx := ctxT(t)
	if live, err := c.Live(ctx); err != nil || !live {
		t.Fatalf("live = %v, %v", live, err)
	}
	if ready, err := c.Ready(ctx); err != nil || !ready {
		t.Fatalf("ready = %v, %v", ready, err)
	}
	if ok, err := c.ModelReady(ctx, "simple", "1"); err != nil || !ok {
		t.Fatalf("model ready = %v, %v", ok, err)
	}
	md, err := c.ServerMetadata(ctx)
	if err != nil || md.Name != "iaasbench" {
		t.Fatalf("server metadata %v, %v", md, err)
	}
	mm, err := c.ModelMetadata(ctx, "simple", "")
	if err != nil || len(mm.Inputs) != 2 || mm.Inputs[0].Datatype != "INT32" || !equalShape(mm.Inputs[0].Shape, []int64{-1, 16}) {
		t.Fatalf("simple metadata %v, %v", mm, err)
	}
	cfg, err := c.ModelConfig(ctx, "simple", "")
	if err != nil || cfg.MaxBatchSize != 8 {
		t.Fatalf("simple config %v, %v", cfg, err)
	}
	a := seq(16, func(i int) int32 { return int32(i) })
	b := seq(16, func(i int) int32 { return 2 })
	resp, err := c.Infer(ctx, simpleRequest(a, b))
	if err != nil {
		t.Fatalf("infer simple: %v", err)
	}
	checkSimple(t, resp, a, b)
	x := ramp(64, 1)
	y := infer(t, c, client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{1, 64}, Data: x}), "y")
	assertClose(t, "mlp y", y.Data, naiveDense(mlpNet(), x, 1), 1e-4)
	if st, err := c.Statistics(ctx, "simple", ""); err != nil || st[0].InferenceStats.Success.Count == 0 {
		t.Fatalf("statistics %v, %v", st, err)
	}
	if idx, err := c.Index(ctx); err != nil || len(idx) != 10 {
		t.Fatalf("index %v, %v", idx, err)
	}
	cfg, _ = c.ModelConfig(ctx, "calibrated", "")
	if err := c.Load(ctx, "calibrated", cfg); err != nil {
		t.Fatalf("load with config: %v", err)
	}
	if err := c.Unload(ctx, "calibrated"); err != nil {
		t.Fatalf("unload: %v", err)
	}
	if err := c.Load(ctx, "calibrated", nil); err != nil {
		t.Fatalf("load: %v", err)
	}
	// The streaming RPC too.
	st, err := c.RPC().ModelStreamInfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(simpleRequest(a, b)); err != nil {
		t.Fatal(err)
	}
	sr, err := st.Recv()
	if err != nil || sr.ErrorMessage != "" {
		t.Fatalf("stream: %v %v", sr, err)
	}
	checkSimple(t, sr.InferResponse, a, b)
	_ = st.CloseSend()
}

func simpleRequest(a, b []int32) *pb.ModelInferRequest {
	return &pb.ModelInferRequest{ModelName: "simple",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{
			{Name: "INPUT0", Datatype: "INT32", Shape: []int64{1, int64(len(a))}},
			{Name: "INPUT1", Datatype: "INT32", Shape: []int64{1, int64(len(b))}},
		},
		RawInputContents: [][]byte{int32LE(a), int32LE(b)},
	}
}

func checkSimple(t *testing.T, resp *pb.ModelInferResponse, a, b []int32) {
	t.Helper()
	sum, diff := make([]int32, len(a)), make([]int32, len(a))
	for i := range a {
		sum[i], diff[i] = a[i]+b[i], a[i]-b[i]
	}
	if len(resp.Outputs) != 2 || resp.Outputs[0].Name != "OUTPUT0" || resp.Outputs[0].Datatype != "INT32" || !equalShape(resp.Outputs[1].Shape, []int64{int64(len(a) / 16), 16}) {
		t.Fatalf("simple outputs %v", resp.Outputs)
	}
	if !bytes.Equal(resp.RawOutputContents[0], int32LE(sum)) || !bytes.Equal(resp.RawOutputContents[1], int32LE(diff)) {
		t.Fatalf("simple: OUTPUT0 %v OUTPUT1 %v, want %v %v", resp.RawOutputContents[0], resp.RawOutputContents[1], int32LE(sum), int32LE(diff))
	}
}

func TestGRPCSuitePlaintext(t *testing.T) {
	_, c := start(t, server.Options{})
	grpcSuite(t, c)
}

// The gRPC suite over TLS with a CA made here; a plaintext client and a
// client trusting another CA are refused; HTTPS serves the same API.
func TestTLS(t *testing.T) {
	p := newPKI(t, "main")
	cfg, err := server.LoadTLS(p.certFile, p.keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, plain, url := startHTTP(t, server.Options{TLS: cfg})
	if !strings.HasPrefix(url, "https://") {
		t.Errorf("HTTPURL %q with TLS", url)
	}
	grpcSuite(t, dialTLS(t, srv.Addr(), &tls.Config{RootCAs: p.pool}))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := plain.Live(ctx); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext gRPC to a TLS server: %v, want Unavailable", err)
	}
	other := newPKI(t, "other")
	if _, err := dialTLS(t, srv.Addr(), &tls.Config{RootCAs: other.pool}).Live(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("gRPC client trusting another CA: %v, want a certificate error", err)
	}

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}}
	resp, err := hc.Get(url + "/v2/health/ready")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTPS ready: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := httpc.Get(url + "/v2/health/ready"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("HTTPS without the CA: %v, want a certificate error", err)
	}
	// Plain HTTP to the TLS port gets no data: net/http answers 400.
	if resp, err := httpc.Get(strings.Replace(url, "https://", "http://", 1) + "/v2"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: %s", resp.Status)
		}
	}
}

// Mutual TLS: the client must present a certificate from the client CA.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t, "main")
	cfg, err := server.LoadTLS(p.certFile, p.keyFile, p.caFile)
	if err != nil {
		t.Fatal(err)
	}
	srv, _, url := startHTTP(t, server.Options{TLS: cfg})
	grpcSuite(t, dialTLS(t, srv.Addr(), &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}}))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := dialTLS(t, srv.Addr(), &tls.Config{RootCAs: p.pool}).Live(ctx); err == nil {
		t.Error("gRPC client without a certificate was served")
	}
	other := newPKI(t, "other")
	if _, err := dialTLS(t, srv.Addr(), &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{other.client}}).Live(ctx); err == nil {
		t.Error("gRPC client with a certificate from another CA was served")
	}
	with := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}}}}
	resp, err := with.Get(url + "/v2")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTPS with a client certificate: %v %v", resp, err)
	}
	resp.Body.Close()
	without := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}}
	if _, err := without.Get(url + "/v2"); err == nil {
		t.Error("HTTPS client without a certificate was served")
	}
}

func TestLoadTLSNamesTheFile(t *testing.T) {
	p := newPKI(t, "main")
	for _, tc := range []struct {
		cert, key, ca, want string
	}{
		{"", p.keyFile, "", "--tls-cert"},
		{p.certFile, "/nonexistent/key.pem", "", "/nonexistent/key.pem"},
		{p.keyFile, p.keyFile, "", p.keyFile},
		{p.certFile, p.keyFile, "/nonexistent/ca.pem", "/nonexistent/ca.pem"},
		{p.certFile, p.keyFile, p.keyFile, p.keyFile},
	} {
		if _, err := server.LoadTLS(tc.cert, tc.key, tc.ca); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadTLS(%q, %q, %q) = %v, want an error naming %s", tc.cert, tc.key, tc.ca, err, tc.want)
		}
	}
}

const testToken = "s3cr3t-T0ken_abc.def"

func withToken(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// The bearer token: no header is refused naming the missing credentials, a
// wrong token is refused, the right one served, on gRPC (unary and
// stream) and HTTP; the token appears in no log line.
func TestAuthToken(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, c, url := startHTTP(t, server.Options{AuthToken: testToken, Logger: logger})
	ctx := ctxT(t)

	_, err := c.ModelMetadata(ctx, "simple", "")
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "missing credentials") || !strings.Contains(err.Error(), "Bearer") {
		t.Errorf("gRPC without a token: %v, want Unauthenticated naming the missing credentials", err)
	}
	if _, err := c.Live(ctx); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC health without a token: %v, want Unauthenticated (health is not exempt)", err)
	}
	if _, err := c.Live(withToken(ctx, "wrong")); status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "invalid credentials") {
		t.Errorf("gRPC with a wrong token: %v", err)
	}
	if _, err := c.Live(metadata.AppendToOutgoingContext(ctx, "authorization", "Basic "+testToken)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC with another scheme: %v", err)
	}
	st, err := c.RPC().ModelStreamInfer(ctx)
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC stream without a token: %v", err)
	}
	grpcSuite(t, tokenClient(t, srv.Addr(), testToken))

	for _, p := range []string{"/v2", "/v2/health/live", "/v2/models/simple/ready", "/v2/models/simple/config"} {
		do(t, "GET", url+p, nil, nil).wantError(t, "HTTP "+p+" without a token", http.StatusUnauthorized, "missing credentials")
		do(t, "GET", url+p, nil, map[string]string{"Authorization": "Bearer nope"}).wantError(t, "HTTP "+p+" with a wrong token", http.StatusUnauthorized, "invalid credentials")
		if r := do(t, "GET", url+p, nil, map[string]string{"Authorization": "Bearer " + testToken}); r.code != http.StatusOK {
			t.Errorf("HTTP %s with the token: %d %s", p, r.code, r.body)
		}
	}
	if r := do(t, "GET", url+"/v2", nil, nil); r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "INPUT0", "shape": []int{1, 1}, "datatype": "BYTES", "data": []string{"x"}}}})
	do(t, "POST", url+"/v2/models/simple_identity/infer", body, nil).wantError(t, "HTTP infer without a token", http.StatusUnauthorized)
	if r := do(t, "POST", url+"/v2/models/simple_identity/infer", body, map[string]string{"Authorization": "bearer " + testToken}); r.code != http.StatusOK {
		t.Errorf("HTTP infer with the token (scheme in lower case): %d %s", r.code, r.body)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Errorf("the token appears in the server's log:\n%s", logs.String())
	}
}

// --auth-exempt-health leaves the KServe health APIs open, nothing else.
func TestAuthExemptHealth(t *testing.T) {
	srv, c, url := startHTTP(t, server.Options{AuthToken: testToken, AuthExemptHealth: true})
	ctx := ctxT(t)
	if live, err := c.Live(ctx); err != nil || !live {
		t.Errorf("exempt gRPC live: %v %v", live, err)
	}
	if ok, err := c.ModelReady(ctx, "simple", ""); err != nil || !ok {
		t.Errorf("exempt gRPC model ready: %v %v", ok, err)
	}
	if _, err := c.ServerMetadata(ctx); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC metadata with health exempt: %v, want Unauthenticated", err)
	}
	for _, p := range []string{"/v2/health/live", "/v2/health/ready", "/v2/models/simple/ready"} {
		if r := do(t, "GET", url+p, nil, nil); r.code != http.StatusOK {
			t.Errorf("exempt %s: %d %s", p, r.code, r.body)
		}
	}
	do(t, "GET", url+"/v2/models/simple", nil, nil).wantError(t, "metadata with health exempt", http.StatusUnauthorized)
	do(t, "POST", url+"/v2/repository/models/simple/unload", nil, nil).wantError(t, "unload with health exempt", http.StatusUnauthorized)
	if _, err := tokenClient(t, srv.Addr(), testToken).ServerMetadata(ctx); err != nil {
		t.Errorf("gRPC metadata with the token: %v", err)
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := server.ReadTokenFile(write("ok", testToken+"\n")); err != nil || tok != testToken {
		t.Errorf("token file with a newline: %q, %v", tok, err)
	}
	if _, err := server.ReadTokenFile(write("empty", " \n")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
	p := write("two", testToken+"\nsecond line\n")
	_, err := server.ReadTokenFile(p)
	if err == nil || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), testToken) {
		t.Errorf("two-line token file: %v (want an error naming the file, not the token)", err)
	}
	if _, err := server.ReadTokenFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing token file accepted")
	}
}

// bearer sends a token with every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

func tokenClient(t *testing.T, addr, tok string) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, grpc.WithPerRPCCredentials(bearer(tok)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
