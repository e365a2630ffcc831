package scenarios

import (
	"strings"
	"testing"
)

const remoteHTTP = `
name: remote-http
target:
  kind: remote
  urls: ["https://gw.example.com/serving/mlp"]
  headers:
    authorization: Bearer ${TOKEN}
    x-tenant: acme-secret-literal
  tls:
    ca_cert: ca.pem
    authority: mlp.example.com
workload:
  model: mlp
  http_encoding: json
`

// Headers and TLS settings reach client.Settings; the recorded YAML keeps
// ${VAR} references and redacts literal values, and the hash does not
// depend on those values.
func TestHeadersAndTLS(t *testing.T) {
	s, err := Parse([]byte(remoteHTTP), "remote-http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Protocol() != ProtocolHTTP {
		t.Errorf("protocol %q, want http from the URL", s.Protocol())
	}
	cs := s.Settings()
	if cs.CACert != "ca.pem" || cs.Authority != "mlp.example.com" || cs.HTTPEncoding != "json" || len(cs.Headers) != 2 ||
		cs.Headers[0].Name != "authorization" || cs.Headers[0].Value != "Bearer ${TOKEN}" {
		t.Errorf("settings %+v", cs)
	}
	y := string(s.YAML())
	if strings.Contains(y, "acme-secret-literal") || !strings.Contains(y, "x-tenant: "+Redacted) || !strings.Contains(y, "Bearer ${TOKEN}") {
		t.Errorf("recorded YAML:\n%s", y)
	}
	back, err := Parse([]byte(y), "recorded")
	if err != nil {
		t.Fatalf("the recorded YAML does not parse: %v", err)
	}
	if back.Hash() != s.Hash() {
		t.Errorf("hash %s after recording, %s before", back.Hash(), s.Hash())
	}
	other := strings.Replace(remoteHTTP, "acme-secret-literal", "another-secret", 1)
	s2, err := Parse([]byte(other), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s2.Hash() != s.Hash() {
		t.Errorf("a secret's value changed the hash")
	}
	if s.Target.Headers["x-tenant"] != "acme-secret-literal" {
		t.Errorf("recording changed the scenario itself: %v", s.Target.Headers)
	}
}

func TestConnectionProblems(t *testing.T) {
	for _, c := range []struct{ yaml, field, want string }{
		{"target: {kind: remote, urls: [\"tcp://h:1\"]}\nworkload: {model: m}", "target.urls[0]", `unknown scheme "tcp"`},
		{"target: {kind: remote, urls: [\"http://h:1\"]}\nworkload: {model: m, protocol: grpc}", "workload.protocol", "scheme says the protocol"},
		{"target: {kind: remote, urls: [\"http://h:1\"]}\nworkload: {model: m, rpc: stream}", "workload.rpc", "no streaming"},
		{"target: {kind: embedded}\nworkload: {model: m, protocol: http, rpc: stream}", "workload.rpc", "no streaming"},
		{"target: {kind: embedded}\nworkload: {model: m, protocol: soap}", "workload.protocol", "want one of grpc, http"},
		{"target: {kind: embedded}\nworkload: {model: m, http_encoding: json}", "workload.http_encoding", "only applies over HTTP"},
		{"target: {kind: embedded, headers: {a: b}}\nworkload: {model: m}", "target.headers", "not used by the embedded target"},
		{"target: {kind: remote, urls: [\"h:1\"], headers: {\"content-length\": \"3\"}}\nworkload: {model: m}", "target.headers.content-length", "set by the protocol"},
		{"target: {kind: remote, urls: [\"h:1\"], headers: {a: \"${X\"}}\nworkload: {model: m}", "target.headers.a", "unterminated"},
		{"target: {kind: remote, urls: [\"h:1\"], tls: {ca_cert: x}}\nworkload: {model: m}", "target.tls", "no URL in target.urls uses TLS"},
		{"target: {kind: remote, urls: [\"grpcs://h:1\"], tls: {client_cert: x}}\nworkload: {model: m}", "target.tls", "both client_cert and client_key"},
	} {
		_, err := Parse([]byte("name: x\n"+c.yaml), "x.yaml")
		ps, ok := err.(Problems)
		found := false
		for _, p := range ps {
			found = found || p.Field == c.field && strings.Contains(p.Msg, c.want)
		}
		if !ok || !found {
			t.Errorf("%s: %v, want %s: …%s…", c.yaml, err, c.field, c.want)
		}
	}
	s, err := Parse([]byte("name: x\ntarget: {kind: embedded}\nworkload: {model: m, protocol: http, http_encoding: json}"), "x.yaml")
	if err != nil || s.Protocol() != ProtocolHTTP {
		t.Errorf("embedded over http: %v", err)
	}
	// The kubernetes target reaches its pods on Triton's HTTP port.
	s, err = Parse([]byte("name: x\ntarget: {kind: kubernetes, kubernetes: {model_repository: s3://b/m}}\nworkload: {model: m, protocol: http, http_encoding: json}"), "x.yaml")
	if err != nil || s.Protocol() != ProtocolHTTP || s.Settings().HTTPEncoding != "json" {
		t.Errorf("kubernetes over http: %v", err)
	}
	if _, err := Parse([]byte("name: x\ntarget: {kind: kubernetes, kubernetes: {model_repository: s3://b/m}}\nworkload: {model: m, protocol: http, rpc: stream}"), "x.yaml"); err == nil || !strings.Contains(err.Error(), "no streaming") {
		t.Errorf("kubernetes over http with rpc: stream: %v, want no streaming", err)
	}
}
