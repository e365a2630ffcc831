package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Messages of refused requests: they name what is missing, never the
// token.
const (
	missingCredentials = "missing credentials: this server requires the header authorization: Bearer <token>"
	invalidCredentials = "invalid credentials: the bearer token in the authorization header is not this server's"
)

// authenticator checks bearer tokens. It keeps only the token's SHA-256,
// and compares digests in constant time, so neither the token's content
// nor its length leaks through timing.
type authenticator struct {
	digest       [sha256.Size]byte
	exemptHealth bool
}

func newAuthenticator(token string, exemptHealth bool) *authenticator {
	if token == "" {
		return nil
	}
	return &authenticator{digest: sha256.Sum256([]byte(token)), exemptHealth: exemptHealth}
}

// check returns nil when header (the authorization value) carries the
// token, else an Unauthenticated status saying what was wrong.
func (a *authenticator) check(header string) error {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if header == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return status.Error(codes.Unauthenticated, missingCredentials)
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(got[:], a.digest[:]) != 1 {
		return status.Error(codes.Unauthenticated, invalidCredentials)
	}
	return nil
}

// healthMethods are the KServe v2 health APIs, which --auth-exempt-health
// leaves open for probes.
func healthMethod(fullMethod string) bool {
	switch fullMethod {
	case pb.GRPCInferenceService_ServerLive_FullMethodName,
		pb.GRPCInferenceService_ServerReady_FullMethodName,
		pb.GRPCInferenceService_ModelReady_FullMethodName:
		return true
	}
	return false
}

func healthPath(p string) bool {
	if p == "/v2/health/live" || p == "/v2/health/ready" {
		return true
	}
	return strings.HasPrefix(p, "/v2/models/") && strings.HasSuffix(p, "/ready")
}

func (a *authenticator) grpcAllowed(ctx context.Context, fullMethod string) error {
	if a.exemptHealth && healthMethod(fullMethod) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return a.check(strings.Join(md.Get("authorization"), ","))
}

func (a *authenticator) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if err := a.grpcAllowed(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return next(ctx, req)
}

func (a *authenticator) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if err := a.grpcAllowed(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return next(srv, ss)
}

// http refuses requests without the token with 401 and the protocol's
// error object.
func (a *authenticator) http(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !(a.exemptHealth && healthPath(r.URL.Path)) {
			if err := a.check(r.Header.Get("Authorization")); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="iaasbench"`)
				httpError(w, http.StatusUnauthorized, status.Convert(err).Message())
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// ReadTokenFile reads a bearer token from a file: its content with
// surrounding white space removed. Errors name the file, never the token.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("auth token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("auth token file %s is empty", path)
	}
	for _, c := range tok {
		// RFC 6750's b64token characters: what a Bearer header can carry.
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~+/=", c)) {
			return "", fmt.Errorf("auth token file %s: the token holds a character a bearer token cannot carry (allowed: letters, digits, -._~+/=); is it one line?", path)
		}
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		slog.Warn("auth token file is readable by other users; chmod 600 it", "file", path, "mode", st.Mode().Perm().String())
	}
	return tok, nil
}

// LoadTLS builds the listeners' TLS configuration from PEM files. With
// clientCAFile, clients must present a certificate signed by one of its
// CAs (mutual TLS).
func LoadTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS client CA %s holds no PEM certificate", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// warnExposure says what a listener on a non-loopback address opens to
// the network: without a token, everything including model control;
// with a token but no TLS, the token itself travels in clear text.
func (s *Server) warnExposure() {
	var open []string
	for _, l := range []struct {
		what string
		lis  net.Listener
	}{{"gRPC", s.lis}, {"HTTP", s.apiLis}} {
		if l.lis == nil {
			continue
		}
		if a, ok := l.lis.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			open = append(open, l.what+" on "+a.String())
		}
	}
	if len(open) == 0 {
		return
	}
	where := strings.Join(open, " and ")
	switch {
	case s.auth == nil:
		s.log.Warn("the model-control API is open to the network without authentication: anyone who can reach "+where+
			" can load, unload and reconfigure models (repository load/unload with a config override), run inference, and read model configs and statistics; require a token (serve --auth-token-file) or bind loopback",
			"listeners", where)
	case s.opts.TLS == nil:
		s.log.Warn("bearer tokens travel in clear text to "+where+"; serve with --tls-cert and --tls-key", "listeners", where)
	}
	if s.metricsLis != nil {
		if a, ok := s.metricsLis.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			s.log.Warn("Prometheus metrics (model names, request counts and durations) are readable from the network without authentication, as on Triton", "metrics", a.String())
		}
	}
}
