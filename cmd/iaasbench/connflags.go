package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/scenarios"
)

// connFlags are the flags that say how to reach servers beyond their
// addresses: TLS, mutual TLS, the server name, headers and the HTTP tensor
// encoding. measure, sweep, profile and agent register them through
// addConnFlags, so that every command takes them alike.
type connFlags struct {
	fs                                       *flag.FlagSet
	caCert, clientCert, clientKey, authority string
	insecure                                 bool
	headers                                  []string
	encoding                                 string
}

// addressHelp documents the address syntax in the flags that take one
// (docs/remote.md has the rest).
const addressHelp = "host:port or grpc://, grpcs://, http://, https://host[:port][/prefix]"

// connAliases are the short names of the connection flags, for help.aliases.
var connAliases = map[string]string{"H": "header"}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{fs: fs}
	fs.StringVar(&c.caCert, "ca-cert", "", "PEM `FILE` of the CAs that sign the servers' certificates (default: the system's roots)")
	fs.StringVar(&c.clientCert, "client-cert", "", "PEM client certificate `FILE` to present (mutual TLS; with --client-key)")
	fs.StringVar(&c.clientKey, "client-key", "", "PEM private key `FILE` of --client-cert")
	fs.BoolVar(&c.insecure, "insecure-skip-verify", false, "INSECURE, for tests only: accept any server certificate (recorded with the results)")
	fs.StringVar(&c.authority, "authority", "", "server `NAME` instead of the address's host (:authority, Host, certificate name)")
	h := headerList{&c.headers}
	fs.Var(h, "header", "header `'Name: value'` sent with every call (repeatable; ${VAR} read from the environment; values never recorded)")
	fs.Var(h, "H", "same as --header")
	fs.StringVar(&c.encoding, "http-encoding", client.EncodingBinary, "`ENCODING` of tensors over KServe v2 REST: binary or json")
	return c
}

// headerList collects repeated -H values.
type headerList struct{ v *[]string }

func (h headerList) String() string {
	if h.v == nil {
		return ""
	}
	// Names only: flag's usage and errors print this.
	var names []string
	for _, s := range *h.v {
		n, _, _ := strings.Cut(s, ":")
		names = append(names, strings.TrimSpace(n)+": <redacted>")
	}
	return strings.Join(names, ", ")
}

func (h headerList) Set(s string) error {
	if _, err := client.ParseHeader(s); err != nil {
		return err
	}
	*h.v = append(*h.v, s)
	return nil
}

// set reports whether any of these flags was given.
func (c *connFlags) set() []string {
	var given []string
	c.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "ca-cert", "client-cert", "client-key", "insecure-skip-verify", "authority", "H", "header", "http-encoding":
			given = append(given, "--"+f.Name)
		}
	})
	return given
}

func (c *connFlags) encodingGiven() bool {
	given := false
	c.fs.Visit(func(f *flag.Flag) { given = given || f.Name == "http-encoding" })
	return given
}

// settings are the flags as client settings; --insecure-skip-verify is
// logged as a warning.
func (c *connFlags) settings(log *slog.Logger) (client.Settings, error) {
	s := client.Settings{CACert: c.caCert, ClientCert: c.clientCert, ClientKey: c.clientKey,
		InsecureSkipVerify: c.insecure, Authority: c.authority, HTTPEncoding: c.encoding}
	for _, v := range c.headers {
		h, err := client.ParseHeader(v)
		if err != nil {
			return s, err
		}
		s.Headers = append(s.Headers, h)
	}
	switch s.HTTPEncoding {
	case client.EncodingBinary, client.EncodingJSON:
	default:
		return s, fmt.Errorf("--http-encoding %q: want %s or %s", s.HTTPEncoding, client.EncodingBinary, client.EncodingJSON)
	}
	if (s.ClientCert == "") != (s.ClientKey == "") {
		return s, errors.New("--client-cert and --client-key go together (mutual TLS)")
	}
	if s.InsecureSkipVerify {
		warnInsecure(log)
	}
	return s, nil
}

func warnInsecure(log *slog.Logger) {
	if log != nil {
		log.Warn("TLS certificate verification is OFF (--insecure-skip-verify): traffic is encrypted, but the server's identity is NOT checked; do not use this against a production endpoint")
	}
}

// applyTo lays the flags over a scenario's target and workload: TLS
// options given replace target.tls's, headers replace target.headers' of
// the same name (their values recorded redacted unless written as
// ${VAR}), an explicit --http-encoding sets workload.http_encoding.
func (c *connFlags) applyTo(s *scenarios.Scenario) error {
	cs, err := c.settings(nil) // the target warns of insecure-skip-verify, from flags or file alike
	if err != nil {
		return err
	}
	t := &s.Target
	for _, f := range []struct{ dst, src *string }{
		{&t.TLS.CACert, &cs.CACert}, {&t.TLS.ClientCert, &cs.ClientCert}, {&t.TLS.ClientKey, &cs.ClientKey}, {&t.TLS.Authority, &cs.Authority},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	t.TLS.InsecureSkipVerify = t.TLS.InsecureSkipVerify || cs.InsecureSkipVerify
	if len(cs.Headers) > 0 {
		if t.Headers == nil {
			t.Headers = map[string]string{}
		}
		for _, h := range cs.Headers {
			for k := range t.Headers {
				if strings.EqualFold(k, h.Name) {
					delete(t.Headers, k)
				}
			}
			t.Headers[strings.ToLower(h.Name)] = h.Value
		}
	}
	if c.encodingGiven() {
		s.Workload.HTTPEncoding = cs.HTTPEncoding
	}
	if err := s.ValidateConnection(); err != nil {
		return fmt.Errorf("with the connection flags: %w", err)
	}
	return nil
}
