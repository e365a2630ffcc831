package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/internal/testpki"
	"github.com/iaasbench/iaasbench/results"
)

// cliEnv makes the test binary act as iaasbench in TestCLIHelperProcess,
// so that these tests run `iaasbench serve` and `iaasbench measure` as
// processes of their own without building a second binary.
const cliEnv = "IAASBENCH_TEST_CLI_PROCESS"

// TestCLIHelperProcess is not a test: run by cliProcess with cliEnv set,
// it is iaasbench with the arguments after "--".
func TestCLIHelperProcess(t *testing.T) {
	if os.Getenv(cliEnv) != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// lockedBuffer is a buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cliProcess prepares `iaasbench args...` as a process of its own.
func cliProcess(dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestCLIHelperProcess$", "--"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), cliEnv+"=1"), env...)
	return cmd
}

var serveLine = regexp.MustCompile(`gRPC on (grpcs?://\S+), HTTP on (https?://\S+),`)

// serveProcess starts `iaasbench serve` on free loopback ports and
// returns its gRPC and HTTP addresses and its log.
func serveProcess(t *testing.T, dir string, args ...string) (grpcAddr, httpAddr string, log *lockedBuffer) {
	t.Helper()
	cmd := cliProcess(dir, nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--metrics-addr", "off"}, args...)...)
	log = &lockedBuffer{}
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
		_, _ = bufio.NewReader(out).WriteTo(ioDiscard{})
	}()
	select {
	case line := <-lines:
		m := serveLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("serve said %q; log:\n%s", line, log.String())
		}
		return m[1], m[2], log
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start; log:\n%s", log.String())
	}
	return "", "", nil
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

// runCLI runs `iaasbench args...` to its end: exit code, stdout, stderr.
func runCLI(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := cliProcess(dir, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not end; stderr:\n%s", args, stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func readMeasurement(t *testing.T, path string) (*results.Measurement, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m results.Measurement
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &m, string(b)
}

// `iaasbench measure` against `iaasbench serve` in another process, over
// plaintext HTTP, HTTPS and gRPC over TLS, with a token the server
// requires: every bad input (no token, a wrong one, a wrong scheme, an
// unreachable host, an unknown CA, an expired certificate) ends in one
// clear line, a non-zero exit and no measurement written; the token is
// nowhere in what is written.
func TestMeasureAgainstServeProcess(t *testing.T) {
	const token = "e2e-tok-5f4e3d2c1b0a"
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pki := testpki.New(t)
	_, plainHTTP, _ := serveProcess(t, dir, "--auth-token-file", tokenFile)
	grpcs, https, _ := serveProcess(t, dir, "--auth-token-file", tokenFile, "--tls-cert", pki.ServerCert, "--tls-key", pki.ServerKey)
	_, expiredHTTPS, _ := serveProcess(t, dir, "--tls-cert", pki.ExpiredCert, "--tls-key", pki.ExpiredKey)
	if !strings.HasPrefix(grpcs, "grpcs://") || !strings.HasPrefix(https, "https://") {
		t.Fatalf("TLS serve at %s and %s", grpcs, https)
	}
	env := []string{"E2E_TOKEN=" + token}
	auth := []string{"-H", "Authorization: Bearer ${E2E_TOKEN}"}
	quick := []string{"--model", "simple", "--requests", "100", "--warmup", "0", "--no-telemetry", "--progress", "off"}

	for _, c := range []struct {
		name  string
		args  []string
		proto string
		tls   bool
	}{
		{"http", []string{"--url", plainHTTP}, "http", false},
		{"http-json", []string{"--url", plainHTTP, "--http-encoding", "json"}, "http", false},
		{"https", []string{"--url", https, "--ca-cert", pki.CAFile}, "http", true},
		{"grpcs", []string{"--url", grpcs, "--ca-cert", pki.CAFile}, "grpc", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name+".json")
			code, stdout, stderr := runCLI(t, dir, env, append(append(append([]string{"measure", "--json", out}, c.args...), auth...), quick...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			m, raw := readMeasurement(t, out)
			if m.Requests != 100 || m.Errors != 0 {
				t.Errorf("requests %d errors %d", m.Requests, m.Errors)
			}
			conn := results.ConnectionOf(m)
			if conn.Protocol != c.proto || conn.TLS != c.tls || conn.TLSUnverified || len(conn.Headers) != 1 || conn.Headers[0] != "authorization" {
				t.Errorf("connection %+v", conn)
			}
			if strings.Contains(raw+stdout+stderr, token) {
				t.Errorf("the token was written: %s\n%s\n%s", raw, stdout, stderr)
			}
			t.Logf("%s", strings.TrimSpace(stdout))
		})
	}

	t.Run("insecure-skip-verify", func(t *testing.T) {
		out := filepath.Join(dir, "insecure.json")
		code, stdout, stderr := runCLI(t, dir, env, append(append([]string{"measure", "--json", out, "--url", https, "--insecure-skip-verify"}, auth...), quick...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		m, _ := readMeasurement(t, out)
		if !results.ConnectionOf(m).TLSUnverified || !strings.Contains(stdout, "TLS NOT VERIFIED") || !strings.Contains(stderr, "level=WARN") || !strings.Contains(stderr, "NOT checked") {
			t.Errorf("not labelled: %+v\nstdout %s\nstderr %s", m.Connection, stdout, stderr)
		}
	})

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{"--url", plainHTTP}, "missing credentials"},
		{"no token grpcs", []string{"--url", grpcs, "--ca-cert", pki.CAFile}, "missing credentials"},
		{"wrong token", []string{"--url", https, "--ca-cert", pki.CAFile, "-H", "Authorization: Bearer expired-or-wrong"}, "invalid credentials"},
		{"unset variable", []string{"--url", plainHTTP, "-H", "Authorization: Bearer ${E2E_UNSET}"}, "E2E_UNSET is not set"},
		{"wrong scheme", []string{"--url", strings.Replace(plainHTTP, "http://", "htp://", 1)}, `unknown scheme "htp"`},
		{"unreachable https", []string{"--url", "https://127.0.0.1:1", "--ca-cert", pki.CAFile}, "unreachable"},
		{"unknown CA", append([]string{"--url", https}, auth...), "--ca-cert"},
		{"expired certificate", []string{"--url", expiredHTTPS, "--ca-cert", pki.CAFile}, "expired"},
		{"plaintext to TLS", append([]string{"--url", strings.Replace(https, "https://", "http://", 1)}, auth...), "HTTP"},
		{"CA for plaintext", []string{"--url", plainHTTP, "--ca-cert", pki.CAFile}, "plaintext"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "bad.json")
			_ = os.Remove(out)
			code, stdout, stderr := runCLI(t, dir, env, append(append([]string{"measure", "--json", out}, c.args...), quick...)...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code == 0 || len(lines) != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q: want a failure in one line with %q", code, stderr, c.want)
			}
			if _, err := os.Stat(out); err == nil || stdout != "" {
				t.Errorf("something was recorded: %v, stdout %q", err, stdout)
			}
			if strings.Contains(stderr, token) || strings.Contains(stderr, "expired-or-wrong") {
				t.Errorf("a secret in the message: %s", stderr)
			}
			t.Logf("%s", strings.TrimSpace(stderr))
		})
	}
}

// `iaasbench sweep --url http://…` against a serve process: every point
// measured over HTTP, its instance count applied over HTTP (the server's
// log shows the model reloaded with each), the token nowhere in the
// results.
func TestSweepAgainstServeProcessOverHTTP(t *testing.T) {
	const token = "sweep-e2e-tok-99x"
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	_, httpAddr, serveLog := serveProcess(t, dir, "--auth-token-file", tokenFile)
	scenario := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(scenario, []byte(`
name: e2e-http
workload: {model: calibrated}
dimensions:
  instances: [1, 3]
server:
  calibrated: {base_us: 2000, per_item_us: 0}
measure: {warmup: 100ms, duration: 300ms}
cost:
  prices: {node_hour: 1}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	resultsFile := filepath.Join(dir, "r.jsonl")
	code, stdout, stderr := runCLI(t, dir, []string{"E2E_TOKEN=" + token}, "sweep", "--scenario", scenario, "--url", httpAddr,
		"-H", "Authorization: Bearer ${E2E_TOKEN}", "--results", resultsFile, "--report", "off")
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	raw, err := os.ReadFile(resultsFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw)+stdout+stderr, token) {
		t.Error("the token was written")
	}
	recs, err := results.ReadFile(resultsFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, r := range results.Points(recs) {
		if r.Status != results.StatusOK || results.ConnectionOf(r.Measurement).Protocol != "http" {
			t.Errorf("point %s: status %s over %s", r.Point.Key(), r.Status, results.ConnectionOf(r.Measurement))
		}
		seen[r.Point.Instances] = true
	}
	if !seen[1] || !seen[3] {
		t.Errorf("points measured: %v", seen)
	}
	hdr := results.HeaderOf(recs)
	if hdr == nil || !strings.Contains(hdr.ScenarioYAML, "authorization: Bearer ${E2E_TOKEN}") {
		t.Errorf("recorded scenario: %v", hdr)
	}
	// The server applied each point's instances.
	log := serveLog.String()
	for _, want := range []string{"model=calibrated", `instances="1×KIND_CPU`, `instances="3×KIND_CPU`} {
		if !strings.Contains(log, want) {
			t.Errorf("serve's log has no %q:\n%s", want, log)
		}
	}
}
