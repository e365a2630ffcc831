package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// These tests check the in-flight budget's accounting with no assertion
// on time: where they wait for the server, they poll for a state with a
// deadline far beyond any machine's slowness.

func startInternal(t *testing.T, opts Options) (*Server, *client.Client) {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	if opts.MetricsAddr == "" {
		opts.MetricsAddr = "off"
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); srv.Stop() })
	return srv, c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds (or a minute passes: a failure).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after a minute: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// mlpRequest is a request of rows rows to the mlp model: rows × 256 bytes
// of tensor.
func mlpRequest(rows int) *pb.ModelInferRequest {
	return client.NewRequest("mlp", client.Tensor{Name: "x", Shape: []int64{int64(rows), 64}, Data: make([]float32, rows*64)})
}

func wireLen(req *pb.ModelInferRequest) int64 { return int64(proto.Size(req)) }

func TestInferenceReadsOwnMessages(t *testing.T) {
	srv, c := startInternal(t, Options{MaxInflightBytes: 64 << 20})
	req := mlpRequest(16)
	if _, err := c.Infer(testCtx(t), req); err != nil {
		t.Fatal(err)
	}
	// The body went through readInferMessage (not grpc-go's reading, which
	// this counter does not see): admission happens before bodies are read.
	if got := srv.inflight.read.Load(); got != wireLen(req) {
		t.Fatalf("server read %d body bytes itself, want the request's %d: grpc-go no longer exposes the transport stream's reader?", got, wireLen(req))
	}
	eventually(t, "budget back to zero", func() bool { return srv.inflight.used.Load() == 0 })
}

func TestRefusedBeforeBodyIsRead(t *testing.T) {
	const limit = 16 << 20
	srv, c := startInternal(t, Options{MaxInflightBytes: limit})
	big := mlpRequest(16384) // 4 MiB of tensor: needs 8 MiB + overhead
	// Occupy all but 6 MiB: the budget is not exhausted (the tap lets the
	// call in) but this request does not fit.
	srv.inflight.force(limit - 6<<20)
	_, err := c.Infer(testCtx(t), big)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("want RESOURCE_EXHAUSTED, got %v", err)
	}
	if !strings.Contains(err.Error(), "--max-inflight-bytes") {
		t.Errorf("error does not name the limit's flag: %v", err)
	}
	if got := srv.inflight.read.Load(); got != 0 {
		t.Fatalf("server read %d bytes of a refused request's body, want 0", got)
	}
	// Exhausted: refused at the stream's headers, before the handler.
	srv.inflight.force(6<<20 - requestOverhead/2)
	_, err = c.Infer(testCtx(t), mlpRequest(1))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("exhausted budget: want RESOURCE_EXHAUSTED, got %v", err)
	}
	if got := srv.inflight.read.Load(); got != 0 {
		t.Fatalf("server read %d body bytes while exhausted, want 0", got)
	}
	if got := srv.inflight.refused.Load(); got != 2 {
		t.Errorf("refused = %d, want 2", got)
	}
	// Room again: the same request is served, and its reservation returns.
	srv.inflight.release(limit - requestOverhead/2)
	if _, err := c.Infer(testCtx(t), big); err != nil {
		t.Fatalf("with room: %v", err)
	}
	if got := srv.inflight.read.Load(); got != wireLen(big) {
		t.Fatalf("read %d, want %d", got, wireLen(big))
	}
	eventually(t, "budget back to zero", func() bool { return srv.inflight.used.Load() == 0 })
}

func TestRequestLargerThanTheWholeLimit(t *testing.T) {
	srv, c := startInternal(t, Options{MaxInflightBytes: 4 << 20})
	_, err := c.Infer(testCtx(t), mlpRequest(8192)) // 2 MiB: needs 4 MiB + overhead
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "whole limit") {
		t.Fatalf("want RESOURCE_EXHAUSTED naming the whole limit, got %v", err)
	}
	if srv.inflight.read.Load() != 0 {
		t.Fatal("body read")
	}
	// On a stream, too: the stream ends with the error.
	st, err := c.OpenStream(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(mlpRequest(8192)); err != nil {
		t.Fatal(err)
	}
	_, err = st.Recv()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("stream: want RESOURCE_EXHAUSTED, got %v", err)
	}
}

func TestStreamWaitsForRoom(t *testing.T) {
	const limit = 8 << 20
	srv, c := startInternal(t, Options{MaxInflightBytes: limit})
	srv.inflight.force(limit - 1<<20)
	st, err := c.OpenStream(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	req := mlpRequest(4096) // 1 MiB: needs 2 MiB
	req.Id = "7"
	if err := st.Send(req); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the streamed request waits for room", func() bool { return srv.inflight.waiters.Load() == 1 })
	if srv.inflight.read.Load() != 0 {
		t.Fatal("a waiting request's body was read")
	}
	srv.inflight.release(limit - 1<<20)
	resp, err := st.Recv()
	if err != nil || resp.GetId() != "7" {
		t.Fatalf("after room was made: %v, %v", resp, err)
	}
	eventually(t, "budget back to zero", func() bool { return srv.inflight.used.Load() == 0 })
}

func TestBudgetReturnsToZeroAfterMixedLoad(t *testing.T) {
	srv, c := startInternal(t, Options{MaxInflightBytes: 6 << 20})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Infer(testCtx(t), mlpRequest(1+i%4*2048)) // 256 B .. 1.5 MiB
			mu.Lock()
			codesSeen[status.Code(err)]++
			mu.Unlock()
		}()
	}
	st, err := c.OpenStream(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		if err := st.Send(mlpRequest(1 + i*512)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 8; i++ {
		if _, err := st.Recv(); err != nil {
			t.Fatalf("stream response %d: %v", i, err)
		}
	}
	st.Close()
	wg.Wait()
	for code, n := range codesSeen {
		if code != codes.OK && code != codes.ResourceExhausted {
			t.Errorf("%d requests ended with %v; want OK or RESOURCE_EXHAUSTED only", n, code)
		}
	}
	eventually(t, "budget back to zero", func() bool { return srv.inflight.used.Load() == 0 })
	if p := srv.inflight.peak.Load(); p > 6<<20 {
		t.Errorf("peak reservation %d above the limit %d", p, 6<<20)
	}
}

func TestBudgetWaitHonoursContext(t *testing.T) {
	b := newInflight(100, slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.force(90)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.wait(ctx, 20); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait on a cancelled context: %v", err)
	}
	if b.used.Load() != 90 {
		t.Fatalf("used %d after a failed wait, want 90", b.used.Load())
	}
	if !b.tryReserve(10) || b.tryReserve(1) {
		t.Fatal("tryReserve: 10 must fit exactly, 1 more must not")
	}
	b.release(100)
	if b.used.Load() != 0 {
		t.Fatalf("used %d", b.used.Load())
	}
}

func TestParseAndFormatBytes(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "1.5GiB": 3 << 29, "2 GB": 2e9, "250MB": 250e6, "64mib": 64 << 20, "1k": 1000} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GB", "12 parsecs", "-5", "1e400"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q): no error", bad)
		}
	}
	if got := FormatBytes(3 << 29); got != "1.5 GiB" {
		t.Errorf("FormatBytes = %q", got)
	}
}

// Over HTTP the budget is consulted with the body's Content-Length before
// the body is read; a refusal is Triton's 503.
func TestHTTPInferAdmittedBeforeBody(t *testing.T) {
	const limit = 16 << 20
	srv, _ := startInternal(t, Options{MaxInflightBytes: limit, HTTPAddr: "127.0.0.1:0"})
	body := make([]byte, 4<<20) // raw binary request: 16384 rows of mlp
	post := func() *http.Response {
		req, err := http.NewRequest(http.MethodPost, srv.HTTPURL()+"/v2/models/mlp/infer", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Inference-Header-Content-Length", "0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	srv.inflight.force(limit - 6<<20)
	if resp := post(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("no room: HTTP %d, want 503", resp.StatusCode)
	}
	if srv.inflight.refused.Load() != 1 {
		t.Fatalf("refused %d, want 1", srv.inflight.refused.Load())
	}
	srv.inflight.release(limit - 6<<20)
	post() // whatever the raw request's validity, its reservation returns
	eventually(t, "budget back to zero", func() bool { return srv.inflight.used.Load() == 0 })
}

// Without the bearer token a ModelInfer call is refused before its body
// is read.
func TestUnauthenticatedInferReadsNothing(t *testing.T) {
	srv, c := startInternal(t, Options{AuthToken: "s3cret"})
	_, err := c.Infer(testCtx(t), mlpRequest(1024))
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without a token: %v", err)
	}
	if got := srv.inflight.read.Load(); got != 0 {
		t.Fatalf("read %d body bytes of an unauthenticated call", got)
	}
}
