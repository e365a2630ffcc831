package measure

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/workload"
)

// httpStatusError stands in for an HTTP client's error that knows its
// status code, the way a KServe-over-HTTP client plugs into the
// classification.
type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string  { return fmt.Sprintf("HTTP %d", e.code) }
func (e *httpStatusError) Rejected() bool { return e.code == 503 || e.code == 429 }

func TestIsRejection(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{status.Error(codes.ResourceExhausted, "the server holds 1 GiB of inference requests in flight"), true},
		{status.Error(codes.Unavailable, "Exceeds maximum queue size"), true}, // connection unknown: trusted
		{status.Error(codes.Internal, "execution failed"), false},
		{status.Error(codes.Unavailable, "Request for unknown model: 'mlp' has no available versions"), false}, // Triton: not overload
		{status.Error(codes.InvalidArgument, "bad shape"), false},
		{&client.RequestError{ID: "3", Message: "Exceeds maximum queue size"}, true}, // Triton, in a stream
		{&client.RequestError{ID: "3", Message: `model "mlp": queue is full (5 requests waiting, max_queue_size 4); retry later`}, true},
		{&client.RequestError{ID: "3", Message: "model has no input x"}, false},
		{fmt.Errorf("client 3: %w", &httpStatusError{503}), true},
		{&httpStatusError{429}, true},
		{&httpStatusError{500}, false},
		{fmt.Errorf("client 1: %w", &client.HTTPError{Status: 503, Message: "queue is full"}), true},
		{&client.HTTPError{Status: 429}, true},
		{&client.HTTPError{Status: 502, Message: "bad gateway"}, false}, // UNAVAILABLE by its code, but no refusal
		{&client.HTTPError{Status: 400, Message: "bad shape"}, false},
		{errors.New("something else"), false},
	} {
		if got := isRejection(c.err, nil); got != c.want {
			t.Errorf("isRejection(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	// UNAVAILABLE over a connection that is not up is the client's own
	// (no server to refuse anything): a failure, not a rejection.
	c, err := client.Dial("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if isRejection(status.Error(codes.Unavailable, "connection refused"), c) {
		t.Error("UNAVAILABLE on a connection that is not ready counted as a rejection")
	}
}

// A server whose queue overflows answers UNAVAILABLE; the measurement
// counts those requests as rejected, keeps going for its whole length and
// reports goodput beside the offered load.
func TestOverloadIsMeasured(t *testing.T) {
	for _, rpc := range []string{workload.RPCUnary, workload.RPCStream, "http"} {
		t.Run(rpc, func(t *testing.T) {
			srv, err := server.New(server.Options{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MetricsAddr: "off", MaxQueue: 1, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Stop)
			// One instance taking 20 ms a call and room for one more
			// request: 32 requests kept in flight cannot all be taken.
			loadCalibrated(t, srv.Addr(), map[string]string{"base_us": "20000", "per_item_us": "0"}, 1)
			o := quick(srv.Addr(), "calibrated")
			o.RPC, o.Clients, o.Concurrency = rpc, 4, 8
			if rpc == "http" {
				// KServe v2 REST: the queue's refusal is 503.
				o = quick(srv.HTTPURL(), "calibrated")
				o.Clients, o.Concurrency = 4, 8
			}
			o.Duration = 600 * time.Millisecond
			m, err := Run(context.Background(), o)
			if err != nil {
				t.Fatalf("overload stopped the measurement: %v", err)
			}
			if m.Rejected == 0 || m.Requests == 0 || m.Errors != 0 {
				t.Fatalf("requests %d rejected %d errors %d: want both requests and rejections, no errors", m.Requests, m.Rejected, m.Errors)
			}
			if m.RejectionRate <= 0 || m.RejectionRate >= 1 {
				t.Errorf("rejection rate %g, want in (0, 1)", m.RejectionRate)
			}
			offered := float64(m.Requests+m.Rejected) / m.DurationS
			if diff := m.OfferedRPS - offered; diff > 1e-9*offered || diff < -1e-9*offered {
				t.Errorf("offered %g req/s, want (requests + rejected) / duration = %g", m.OfferedRPS, offered)
			}
			if m.ThroughputRPS >= m.OfferedRPS {
				t.Errorf("goodput %g req/s not below the offered %g", m.ThroughputRPS, m.OfferedRPS)
			}
			var windowsRejected float64
			for _, w := range m.Windows {
				windowsRejected += w.RejectedRPS * w.DurationS
			}
			if windowsRejected < float64(m.Rejected)-0.5 {
				t.Errorf("windows account for %.0f rejections, the measurement %d", windowsRejected, m.Rejected)
			}
		})
	}
}
