package measure

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/server"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer starts an embedded server on a free loopback port for one
// test.
func startServer(t testing.TB) *server.Server {
	t.Helper()
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// loadCalibrated reloads the calibrated model with the given parameters
// through the protocol (Triton's load-with-config).
func loadCalibrated(t testing.TB, addr string, params map[string]string, instances int32) {
	t.Helper()
	c, err := client.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	cfg, err := c.ModelConfig(ctx, "calibrated", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Parameters = map[string]*pb.ModelParameter{}
	for k, v := range params {
		cfg.Parameters[k] = &pb.ModelParameter{StringValue: v}
	}
	cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: instances, Kind: pb.ModelInstanceGroup_KIND_CPU}}
	if err := c.Load(ctx, "calibrated", cfg); err != nil {
		t.Fatal(err)
	}
}

// quick are options for short test measurements.
func quick(addr, model string) Options {
	return Options{
		Addrs:         []string{addr},
		Model:         model,
		Warmup:        100 * time.Millisecond,
		Window:        200 * time.Millisecond,
		StableWindows: 2,
		MaxWindows:    3,
		NoTelemetry:   true,
		Logger:        quietLogger(),
	}
}
