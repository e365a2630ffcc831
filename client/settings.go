package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
)

// Settings say how to reach servers beyond their addresses: TLS, the
// headers every call carries, the HTTP tensor encoding. The zero value is
// plaintext with no headers.
//
// Header values may be secrets: nothing in this package writes them to an
// error, a log or a String; they are sent to the server and nowhere else.
// Settings travel whole to load agents (package agent), so that agents
// send the same headers; values written as ${VAR} are expanded where the
// connection is made, from that process's environment.
type Settings struct {
	// CACert is a PEM file of the CAs that sign servers' certificates
	// (default: the system's roots).
	CACert string `json:"ca_cert,omitempty"`
	// ClientCert and ClientKey are a PEM certificate and its key that this
	// client presents (mutual TLS).
	ClientCert string `json:"client_cert,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`
	// InsecureSkipVerify accepts any server certificate: the connection is
	// encrypted but the server's identity is not checked.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// Authority overrides the server name: gRPC's :authority and HTTP's
	// Host header, and the name TLS checks the certificate against.
	Authority string `json:"authority,omitempty"`
	// Headers are sent with every call: gRPC metadata, HTTP headers.
	Headers []Header `json:"headers,omitempty"`
	// HTTPEncoding is how tensors travel over HTTP: EncodingBinary
	// (Triton's binary tensor extension, the default) or EncodingJSON.
	HTTPEncoding string `json:"http_encoding,omitempty"`
	// MaxConns is how many requests one HTTP connection pool expects in
	// flight, which sizes its keep-alive pool (HTTP/1.1 carries one
	// request at a time per connection); 0 means 64. gRPC multiplexes and
	// ignores it.
	MaxConns int `json:"-"`
}

// HTTP tensor encodings.
const (
	EncodingBinary = "binary" // Triton's binary tensor data extension
	EncodingJSON   = "json"   // KServe v2 JSON tensors
)

// TLSOptionsSet reports whether any TLS option is given.
func (s Settings) TLSOptionsSet() bool {
	return s.CACert != "" || s.ClientCert != "" || s.ClientKey != "" || s.InsecureSkipVerify
}

// HeaderNames are the names of the headers sent, lower case, for records
// and messages: values never leave the connection.
func (s Settings) HeaderNames() []string {
	var out []string
	for _, h := range s.Headers {
		out = append(out, strings.ToLower(h.Name))
	}
	return out
}

// Check validates the settings for an endpoint without reading files or
// the environment.
func (s Settings) Check(e Endpoint) error {
	if !e.TLS {
		var opts []string
		if s.CACert != "" {
			opts = append(opts, "a CA certificate (--ca-cert)")
		}
		if s.ClientCert != "" || s.ClientKey != "" {
			opts = append(opts, "a client certificate (--client-cert/--client-key)")
		}
		if s.InsecureSkipVerify {
			opts = append(opts, "--insecure-skip-verify")
		}
		if len(opts) > 0 {
			return fmt.Errorf("%s given, but %s is plaintext: write %s://%s for TLS", strings.Join(opts, " and "), e, e.Protocol+"s", e.Host+e.Prefix)
		}
	}
	if (s.ClientCert == "") != (s.ClientKey == "") {
		return errors.New("mutual TLS needs both a client certificate (--client-cert) and its key (--client-key)")
	}
	switch s.HTTPEncoding {
	case "", EncodingBinary, EncodingJSON:
	default:
		return fmt.Errorf("HTTP tensor encoding %q: want %s or %s", s.HTTPEncoding, EncodingBinary, EncodingJSON)
	}
	if s.Authority != "" {
		if strings.ContainsAny(s.Authority, " /\t\r\n") {
			return fmt.Errorf("authority %q: want a host name (or host:port)", s.Authority)
		}
	}
	seen := map[string]bool{}
	for _, h := range s.Headers {
		if err := h.Check(); err != nil {
			return err
		}
		n := strings.ToLower(h.Name)
		if seen[n] {
			return fmt.Errorf("header %s given twice", n)
		}
		seen[n] = true
		if n == "host" && s.Authority != "" {
			return errors.New("both a Host header and --authority given: they set the same thing; keep one")
		}
	}
	return nil
}

// authority is the server name override: Authority, or a Host header.
func (s Settings) authority(resolved []resolvedHeader) string {
	if s.Authority != "" {
		return s.Authority
	}
	for _, h := range resolved {
		if h.name == "host" {
			return h.value
		}
	}
	return ""
}

// tlsConfig builds the TLS configuration of an endpoint, or nil for a
// plaintext one.
func (s Settings) tlsConfig(e Endpoint, authority string) (*tls.Config, error) {
	if err := s.Check(e); err != nil {
		return nil, err
	}
	if !e.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.InsecureSkipVerify}
	if authority != "" {
		name := authority
		if h, _, err := net.SplitHostPort(authority); err == nil {
			name = h
		}
		cfg.ServerName = name
	}
	if s.CACert != "" {
		pem, err := os.ReadFile(s.CACert)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate %s holds no PEM certificate", s.CACert)
		}
		cfg.RootCAs = pool
	}
	if s.ClientCert != "" {
		pair, err := tls.LoadX509KeyPair(s.ClientCert, s.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s with key %s: %w", s.ClientCert, s.ClientKey, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Header is one header sent with every call. Value is as written: it may
// hold ${VAR} references, expanded from the environment when a connection
// is made. String and LogValue never show the value.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ParseHeader reads "Name: value", as curl's -H takes it.
func ParseHeader(s string) (Header, error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		// Only the part before any colon is shown: the rest may be a secret.
		return Header{}, fmt.Errorf("header %q: want 'Name: value'", firstWord(s))
	}
	h := Header{Name: name, Value: strings.TrimSpace(value)}
	return h, h.Check()
}

func firstWord(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i] + " …"
	}
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// String is "name: <redacted>".
func (h Header) String() string { return strings.ToLower(h.Name) + ": <redacted>" }

// LogValue keeps the value out of logs.
func (h Header) LogValue() slog.Value { return slog.StringValue(h.String()) }

// reservedHeaders are set by the protocol itself.
var reservedHeaders = map[string]bool{
	"content-length": true, "content-type": true, "transfer-encoding": true, "connection": true,
	"te": true, "upgrade": true, "keep-alive": true, "inference-header-content-length": true,
	"content-encoding": true,
}

// Check validates the name and the value as written (${VAR} references
// well formed), without reading the environment.
func (h Header) Check() error {
	n := strings.ToLower(h.Name)
	if n == "" {
		return errors.New("header with an empty name")
	}
	for _, c := range n {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c) {
			return fmt.Errorf("header name %q holds %q, which a header name cannot", h.Name, c)
		}
	}
	if reservedHeaders[n] || strings.HasPrefix(n, "grpc-") {
		return fmt.Errorf("header %s is set by the protocol itself and cannot be given", n)
	}
	if strings.ContainsAny(h.Value, "\r\n\x00") {
		return fmt.Errorf("header %s: the value holds a line break or NUL", n)
	}
	if _, err := expandEnv(h.Value, func(string) (string, bool) { return "x", true }); err != nil {
		return fmt.Errorf("header %s: %w", n, err)
	}
	return nil
}

// HasEnvRef reports whether the value is written with ${VAR} references,
// so that what is written is no secret itself.
func (h Header) HasEnvRef() bool { return strings.Contains(h.Value, "${") }

// resolvedHeader is a header with its value expanded.
type resolvedHeader struct{ name, value string }

// resolveHeaders expands every value from the environment; an unset
// variable is an error naming it and the header, never a value.
func resolveHeaders(hs []Header) ([]resolvedHeader, error) {
	out := make([]resolvedHeader, 0, len(hs))
	for _, h := range hs {
		v, err := expandEnv(h.Value, os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", strings.ToLower(h.Name), err)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("header %s: the value from the environment holds a line break or NUL", strings.ToLower(h.Name))
		}
		out = append(out, resolvedHeader{strings.ToLower(h.Name), v})
	}
	return out, nil
}

// expandEnv replaces ${NAME} with the variable's value. Only the braced
// form is expanded, so that a literal $ in a token stays as it is; $$
// is not special. An unset variable or a malformed reference is an error.
func expandEnv(v string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(v, "${") {
		return v, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			b.WriteString(v)
			return b.String(), nil
		}
		b.WriteString(v[:i])
		end := strings.IndexByte(v[i:], '}')
		if end < 0 {
			return "", errors.New("unterminated ${ (want ${NAME})")
		}
		name := v[i+2 : i+end]
		if !validEnvName(name) {
			return "", fmt.Errorf("${%s} is not a variable name (want letters, digits and _)", name)
		}
		val, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(val)
		v = v[i+end+1:]
	}
}

func validEnvName(n string) bool {
	if n == "" {
		return false
	}
	for i, c := range n {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
