package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/server"
)

// Agents drive a server over HTTP with a token: the plan carries the
// header as written (${VAR}), each agent expands it from its own
// environment, and the merged measurement records the protocol and the
// header's name only.
func TestAgentsOverHTTPWithToken(t *testing.T) {
	const token = "agent-tok-31415"
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MetricsAddr: "off", AuthToken: token, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	t.Setenv("AGENT_TEST_TOKEN", token) // the agents' processes inherit it
	opts := measure.Options{Addrs: []string{srv.HTTPURL()}, Model: "mlp", Clients: 2,
		Conn:   client.Settings{Headers: []client.Header{{Name: "Authorization", Value: "Bearer ${AGENT_TEST_TOKEN}"}}},
		Warmup: 100 * time.Millisecond, Duration: 400 * time.Millisecond, Window: 200 * time.Millisecond, NoTelemetry: true}
	plans, err := agent.Split(opts, 2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(plans)
	if strings.Contains(string(b), token) || !strings.Contains(string(b), "${AGENT_TEST_TOKEN}") {
		t.Errorf("plans: %s", b)
	}
	pool, err := agent.StartPool(2, selfAgent)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m, err := pool.Measure(context.Background(), opts, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests == 0 || m.Errors != 0 {
		t.Errorf("requests %d errors %d", m.Requests, m.Errors)
	}
	if c := results.ConnectionOf(m); c.Protocol != "http" || len(c.Headers) != 1 || c.Headers[0] != "authorization" {
		t.Errorf("connection %s %v", c, c.Headers)
	}
}

func TestOverlay(t *testing.T) {
	plan := client.Settings{CACert: "plan-ca.pem", Authority: "a", Headers: []client.Header{{Name: "Authorization", Value: "x"}, {Name: "X-Keep", Value: "k"}}}
	local := client.Settings{CACert: "/etc/agent/ca.pem", Headers: []client.Header{{Name: "authorization", Value: "Bearer ${POD_TOKEN}"}}}
	got := agent.Overlay(plan, local)
	if got.CACert != "/etc/agent/ca.pem" || got.Authority != "a" || len(got.Headers) != 2 ||
		got.Headers[0].Name != "X-Keep" || got.Headers[1].Value != "Bearer ${POD_TOKEN}" {
		t.Errorf("overlay = %+v", got)
	}
	if o := agent.Overlay(plan, client.Settings{}); o.CACert != plan.CACert || len(o.Headers) != 2 {
		t.Errorf("empty overlay changed the plan: %+v", o)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
