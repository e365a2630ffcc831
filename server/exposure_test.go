package server

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// fakeListener reports an address without binding it, so the warning can
// be checked without opening a port to the network.
type fakeListener struct{ addr net.Addr }

func (fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (fakeListener) Close() error              { return nil }
func (l fakeListener) Addr() net.Addr          { return l.addr }

func TestExposureWarning(t *testing.T) {
	public := fakeListener{&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8001}}
	wildcard := fakeListener{&net.TCPAddr{IP: net.IPv4zero, Port: 8000}}
	loop := fakeListener{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8001}}
	warn := func(s *Server) string {
		var b bytes.Buffer
		s.log = slog.New(slog.NewTextHandler(&b, nil))
		s.warnExposure()
		return b.String()
	}
	out := warn(&Server{lis: public, apiLis: wildcard})
	for _, want := range []string{"open to the network", "gRPC on 10.1.2.3:8001", "HTTP on 0.0.0.0:8000", "load, unload and reconfigure models", "--auth-token-file"} {
		if !strings.Contains(out, want) {
			t.Errorf("warning %q lacks %q", out, want)
		}
	}
	if out := warn(&Server{lis: loop}); out != "" {
		t.Errorf("loopback warned: %s", out)
	}
	tok := "t0ken-value"
	out = warn(&Server{lis: public, auth: newAuthenticator(tok, false)})
	if !strings.Contains(out, "clear text") || strings.Contains(out, tok) {
		t.Errorf("token without TLS: %q", out)
	}
	if out := warn(&Server{lis: public, auth: newAuthenticator(tok, false), opts: Options{TLS: &tls.Config{}}}); out != "" {
		t.Errorf("token with TLS warned: %s", out)
	}
}
