package client

import (
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Endpoint
	}{
		{"127.0.0.1:8001", Endpoint{Protocol: GRPC, Host: "127.0.0.1:8001"}},
		{" localhost:8001 ", Endpoint{Protocol: GRPC, Host: "localhost:8001"}},
		{"grpc://host:8001", Endpoint{Protocol: GRPC, Host: "host:8001"}},
		{"GRPC://host:8001/", Endpoint{Protocol: GRPC, Host: "host:8001"}},
		{"grpcs://gw.example.com", Endpoint{Protocol: GRPC, TLS: true, Host: "gw.example.com:443"}},
		{"grpcs://gw.example.com:8443", Endpoint{Protocol: GRPC, TLS: true, Host: "gw.example.com:8443"}},
		{"http://127.0.0.1:8000", Endpoint{Protocol: HTTP, Host: "127.0.0.1:8000"}},
		{"http://host", Endpoint{Protocol: HTTP, Host: "host:80"}},
		{"https://gw.example.com/serving/mymodel/", Endpoint{Protocol: HTTP, TLS: true, Host: "gw.example.com:443", Prefix: "/serving/mymodel"}},
		{"https://[::1]:8443/p", Endpoint{Protocol: HTTP, TLS: true, Host: "[::1]:8443", Prefix: "/p"}},
		{"[::1]:8001", Endpoint{Protocol: GRPC, Host: "[::1]:8001"}},
	} {
		got, err := ParseEndpoint(c.in)
		if err != nil {
			t.Errorf("ParseEndpoint(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseEndpoint(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	if got, _ := ParseEndpoint("https://gw.example.com/serving/m"); got.String() != "https://gw.example.com:443/serving/m" || got.Scheme() != "https" {
		t.Errorf("String %q Scheme %q", got.String(), got.Scheme())
	}
	for _, c := range []struct{ in, want string }{
		{"", "empty server address"},
		{"tcp://host:1", `unknown scheme "tcp"`},
		{"grpcs:/host:1", "malformed scheme"},
		{"host", "want host:port"},
		{"grpc://host", "missing port"},
		{"host:0", "not a number in 1..65535"},
		{"host:http", "not a number in 1..65535"},
		{"localhost:8000/v2", "has a path but no scheme"},
		{"grpc://host:1/prefix", "gRPC addresses have no path"},
		{"https://host/v2", "leave /v2 out"},
		{"http://host:1/x?y=1", "query or fragment"},
		{"https://user:s3cret@host", "holds credentials"},
		{"http://", "has no host"},
	} {
		_, err := ParseEndpoint(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseEndpoint(%q) = %v, want an error with %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseEndpoint(%q): the error shows the password: %v", c.in, err)
		}
	}
}

func TestHeaders(t *testing.T) {
	h, err := ParseHeader("Authorization: Bearer abc:def")
	if err != nil || h.Name != "Authorization" || h.Value != "Bearer abc:def" {
		t.Fatalf("ParseHeader = %+v, %v", h, err)
	}
	if s := h.String(); s != "authorization: <redacted>" {
		t.Errorf("String = %q", s)
	}
	for _, c := range []struct{ in, want string }{
		{"no colon here-secret", "want 'Name: value'"},
		{": value", "want 'Name: value'"},
		{"Content-Length: 3", "set by the protocol"},
		{"grpc-timeout: 1S", "set by the protocol"},
		{"Bad Name: x", "cannot"},
		{"X-Token: ${UNCLOSED", "unterminated ${"},
		{"X-Token: ${1BAD}", "not a variable name"},
	} {
		_, err := ParseHeader(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseHeader(%q) = %v, want an error with %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseHeader(%q): error shows the value: %v", c.in, err)
		}
	}
	env := map[string]string{"TOKEN": "t0k3n", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, c := range []struct{ in, want string }{
		{"Bearer ${TOKEN}", "Bearer t0k3n"},
		{"${TOKEN}${TOKEN}", "t0k3nt0k3n"},
		{"a$b ${EMPTY}c", "a$b c"},
		{"plain", "plain"},
	} {
		if got, err := expandEnv(c.in, lookup); err != nil || got != c.want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := expandEnv("Bearer ${MISSING}", lookup); err == nil || !strings.Contains(err.Error(), "MISSING is not set") {
		t.Errorf("unset variable: %v", err)
	}
}

func TestSettingsCheck(t *testing.T) {
	plain, _ := ParseEndpoint("http://h:1")
	tlsEP, _ := ParseEndpoint("https://h:1")
	for _, c := range []struct {
		s    Settings
		e    Endpoint
		want string
	}{
		{Settings{CACert: "ca.pem"}, plain, "is plaintext: write https://h:1"},
		{Settings{InsecureSkipVerify: true}, plain, "--insecure-skip-verify given"},
		{Settings{ClientCert: "c.pem"}, tlsEP, "both a client certificate"},
		{Settings{HTTPEncoding: "xml"}, tlsEP, `encoding "xml"`},
		{Settings{Headers: []Header{{"X-A", "1"}, {"x-a", "2"}}}, tlsEP, "given twice"},
		{Settings{Authority: "a", Headers: []Header{{"Host", "b"}}}, tlsEP, "keep one"},
	} {
		err := c.s.Check(c.e)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%+v, %s) = %v, want %q", c.s, c.e, err, c.want)
		}
	}
	if err := (Settings{CACert: "x", Headers: []Header{{"Authorization", "Bearer ${T}"}}}).Check(tlsEP); err != nil {
		t.Error(err)
	}
}
