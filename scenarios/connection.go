package scenarios

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/workload"
)

// TLS says how a sweep checks the servers of grpcs:// and https:// URLs:
// the fields of client.Settings, as the connection flags of measure and
// sweep set them.
type TLS struct {
	CACert             string `yaml:"ca_cert,omitempty" json:"ca_cert,omitempty"`
	ClientCert         string `yaml:"client_cert,omitempty" json:"client_cert,omitempty"`
	ClientKey          string `yaml:"client_key,omitempty" json:"client_key,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
	Authority          string `yaml:"authority,omitempty" json:"authority,omitempty"`
}

// Protocols a workload can name for the servers a sweep starts.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http"
)

// Redacted stands for a header value that is not recorded.
const Redacted = "<redacted>"

// recorded is the target as results may keep it: header values that are
// more than ${VAR} references are secrets written in the file (or given
// with -H), and become Redacted.
func (t Target) recorded() Target {
	if len(t.Headers) == 0 {
		return t
	}
	out := t
	out.Headers = make(map[string]string, len(t.Headers))
	for k, v := range t.Headers {
		if !onlyEnvRefs(v) {
			v = Redacted
		}
		out.Headers[k] = v
	}
	return out
}

// onlyEnvRefs reports whether v is made of ${VAR} references alone, with
// no literal text but white space and an auth scheme word in front
// ("Bearer ${TOKEN}").
func onlyEnvRefs(v string) bool {
	if !strings.Contains(v, "${") {
		return false
	}
	rest := v
	if i := strings.IndexByte(rest, ' '); i >= 0 && !strings.Contains(rest[:i], "${") {
		rest = rest[i+1:] // the scheme: Bearer, Basic, Token
	}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		if !strings.HasPrefix(rest, "${") {
			return false
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return false
		}
		rest = rest[end+1:]
	}
	return true
}

// Settings are the client settings of the scenario's target and
// workload: TLS, headers (values as written, expanded when a connection
// is made) and the HTTP tensor encoding.
func (s *Scenario) Settings() client.Settings {
	t := s.Target
	cs := client.Settings{CACert: t.TLS.CACert, ClientCert: t.TLS.ClientCert, ClientKey: t.TLS.ClientKey,
		InsecureSkipVerify: t.TLS.InsecureSkipVerify, Authority: t.TLS.Authority, HTTPEncoding: s.Workload.HTTPEncoding}
	for _, k := range slices.Sorted(maps.Keys(t.Headers)) {
		cs.Headers = append(cs.Headers, client.Header{Name: k, Value: t.Headers[k]})
	}
	return cs
}

// Protocol is the protocol the workload's load goes over: the scheme of
// a remote target's URLs, else workload.protocol (grpc by default).
func (s *Scenario) Protocol() string {
	if s.Target.Kind == TargetRemote && len(s.Target.URLs) > 0 {
		if e, err := client.ParseEndpoint(s.Target.URLs[0]); err == nil {
			return string(e.Protocol)
		}
	}
	if s.Workload.Protocol == "" {
		return ProtocolGRPC
	}
	return s.Workload.Protocol
}

// ValidateConnection checks only what says how to reach the servers
// (target URLs, headers, TLS, workload protocol and encoding), for a
// scenario whose connection was changed after it was parsed (sweep's
// --url and connection flags).
func (s *Scenario) ValidateConnection() error {
	v := &validator{s: s}
	v.connection()
	if len(v.problems) == 0 {
		return nil
	}
	return v.problems.sorted()
}

// connection checks the target's URLs, headers and TLS settings and the
// workload's protocol against one another.
func (v *validator) connection() {
	t, w := v.s.Target, v.s.Workload
	if w.Protocol != "" {
		v.enum("workload.protocol", w.Protocol, ProtocolGRPC, ProtocolHTTP)
	}
	if w.HTTPEncoding != "" {
		v.enum("workload.http_encoding", w.HTTPEncoding, client.EncodingBinary, client.EncodingJSON)
	}
	anyTLS := false
	for i, u := range t.URLs {
		if strings.TrimSpace(u) == "" {
			continue // reported by target()
		}
		e, err := client.ParseEndpoint(u)
		if err != nil {
			v.add(fmt.Sprintf("target.urls[%d]", i), "%v", err)
			continue
		}
		anyTLS = anyTLS || e.TLS
		if w.Protocol != "" && string(e.Protocol) != w.Protocol {
			v.add("workload.protocol", "%s, but target.urls[%d] (%s) is %s: a remote URL's scheme says the protocol", w.Protocol, i, u, e.Protocol)
		}
	}
	if v.s.Protocol() == ProtocolHTTP && w.RPC == workload.RPCStream {
		v.add("workload.rpc", "stream is gRPC's bidirectional ModelStreamInfer; KServe v2 REST has no streaming (use rpc: unary, or gRPC)")
	}
	if w.HTTPEncoding != "" && v.s.Protocol() != ProtocolHTTP {
		v.add("workload.http_encoding", "only applies over HTTP (workload.protocol: http, or http:// URLs)")
	}
	names := make([]string, 0, len(t.Headers))
	for _, k := range slices.Sorted(maps.Keys(t.Headers)) {
		names = append(names, k)
		if err := (client.Header{Name: k, Value: t.Headers[k]}).Check(); err != nil {
			v.add("target.headers."+k, "%v", err)
		}
	}
	noConn := t.Kind == TargetEmbedded || t.Kind == TargetSimulated
	if len(names) > 0 && noConn {
		v.add("target.headers", "not used by the %s target (its servers need no credentials)", t.Kind)
	}
	if t.TLS != (TLS{}) {
		switch {
		case noConn || t.Kind == TargetLocal || t.Kind == TargetKubernetes:
			v.add("target.tls", "not used by the %s target (it reaches the servers it starts over plaintext)", t.Kind)
		case t.Kind == TargetRemote && len(t.URLs) > 0 && !anyTLS:
			v.add("target.tls", "no URL in target.urls uses TLS: write grpcs:// or https:// for the servers it applies to")
		}
		if (t.TLS.ClientCert == "") != (t.TLS.ClientKey == "") {
			v.add("target.tls", "mutual TLS needs both client_cert and client_key")
		}
	}
}
