package client

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Protocol is the wire protocol of an endpoint.
type Protocol string

// Protocols iaasbench speaks.
const (
	// GRPC is Triton's gRPC protocol (KServe v2 gRPC plus Triton's
	// extensions).
	GRPC Protocol = "grpc"
	// HTTP is the KServe v2 HTTP/REST protocol with Triton's extensions
	// (binary tensor data, model configuration, statistics, repository).
	HTTP Protocol = "http"
)

// Endpoint is where a server is reached: one syntax for flags and scenario
// files alike.
//
//	host:port              gRPC, plaintext
//	grpc://host:port       gRPC, plaintext
//	grpcs://host[:port]    gRPC over TLS (port 443 when left out)
//	http://host[:port][/prefix]    KServe v2 REST (port 80 when left out)
//	https://host[:port][/prefix]   KServe v2 REST over TLS (port 443)
//
// The optional path prefix is what an ingress route puts in front of the
// server's /v2 paths (https://gw.example.com/serving/mymodel).
type Endpoint struct {
	Protocol Protocol
	TLS      bool
	Host     string // host:port
	Prefix   string // HTTP path prefix without a trailing slash; "" for none
}

// Scheme is grpc, grpcs, http or https.
func (e Endpoint) Scheme() string {
	s := string(e.Protocol)
	if e.TLS {
		s += "s"
	}
	return s
}

// String is the endpoint in its URL form.
func (e Endpoint) String() string { return e.Scheme() + "://" + e.Host + e.Prefix }

// ParseEndpoint reads an address in the syntax of Endpoint. Errors say
// what is wrong and what would be right; a URL with credentials in it is
// refused, so that no secret lands in a results file through an address.
func ParseEndpoint(s string) (Endpoint, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return Endpoint{}, fmt.Errorf("empty server address: want host:port, grpc://host:port, grpcs://host:port, http://host:port or https://host:port")
	}
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme {
		if i := strings.Index(raw, ":/"); i > 0 && !strings.ContainsAny(raw[:i], ".[]") {
			return Endpoint{}, fmt.Errorf("address %q: malformed scheme: write grpc://, grpcs://, http:// or https:// before the host", raw)
		}
		if strings.Contains(raw, "/") {
			return Endpoint{}, fmt.Errorf("address %q has a path but no scheme: write http://%s or https://%s for KServe v2 REST (host:port alone means plaintext gRPC)", raw, raw, raw)
		}
		host, err := hostPort(raw, "", raw)
		if err != nil {
			return Endpoint{}, err
		}
		return Endpoint{Protocol: GRPC, Host: host}, nil
	}
	var e Endpoint
	defPort := ""
	switch strings.ToLower(scheme) {
	case "grpc":
		e.Protocol = GRPC
	case "grpcs":
		e.Protocol, e.TLS, defPort = GRPC, true, "443"
	case "http":
		e.Protocol, defPort = HTTP, "80"
	case "https":
		e.Protocol, e.TLS, defPort = HTTP, true, "443"
	default:
		return Endpoint{}, fmt.Errorf("address %q: unknown scheme %q: want grpc:// or grpcs:// (Triton's gRPC), http:// or https:// (KServe v2 REST), or host:port for plaintext gRPC", raw, scheme)
	}
	if rest == "" {
		return Endpoint{}, fmt.Errorf("address %q has no host", raw)
	}
	u, err := url.Parse(strings.ToLower(scheme) + "://" + rest)
	if err != nil {
		return Endpoint{}, fmt.Errorf("address %q: %w", raw, err)
	}
	if u.User != nil {
		return Endpoint{}, fmt.Errorf("address %q holds credentials (user@ or user:password@): pass them as a header (-H 'Authorization: …') so that they are not recorded with the results", redactUser(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(rest, "?") {
		return Endpoint{}, fmt.Errorf("address %q: a query or fragment is not part of a server address", raw)
	}
	if e.Host, err = hostPort(u.Host, defPort, raw); err != nil {
		return Endpoint{}, err
	}
	path := strings.TrimRight(u.Path, "/")
	if e.Protocol == GRPC && path != "" {
		return Endpoint{}, fmt.Errorf("address %q: gRPC addresses have no path (%s); for KServe v2 REST behind a path prefix use http:// or https://", raw, u.Path)
	}
	if path == "/v2" || strings.HasSuffix(path, "/v2") || strings.Contains(path, "/v2/") {
		return Endpoint{}, fmt.Errorf("address %q: leave /v2 out of the path; iaasbench adds the KServe v2 paths itself (the path is only an ingress route's prefix)", raw)
	}
	e.Prefix = path
	return e, nil
}

// hostPort checks host:port (filling in defPort when the port is left out
// and there is a default).
func hostPort(hp, defPort, raw string) (string, error) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		if defPort == "" || strings.Count(hp, ":") > 1 && !strings.HasPrefix(hp, "[") {
			return "", fmt.Errorf("address %q: want host:port (%v)", raw, err)
		}
		host, port = strings.Trim(hp, "[]"), defPort
	}
	if host == "" {
		return "", fmt.Errorf("address %q has no host", raw)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("address %q: port %q is not a number in 1..65535", raw, port)
	}
	return net.JoinHostPort(host, port), nil
}

// redactUser replaces the user information of a URL with "…@".
func redactUser(raw string) string {
	scheme, rest, _ := strings.Cut(raw, "://")
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = "…@" + rest[i+1:]
	}
	return scheme + "://" + rest
}
