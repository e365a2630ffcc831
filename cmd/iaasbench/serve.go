package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/modelrepo"
	"github.com/iaasbench/iaasbench/server"
)

func runServe(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("serve", os.Stderr)
	addr := fs.String("addr", "127.0.0.1:8001", "gRPC listen address (loopback unless you mean otherwise)")
	metrics := fs.String("metrics-addr", "127.0.0.1:8002", `Prometheus metrics address, or "off"`)
	repo := fs.String("repo", "", "model repository directory in Triton's layout (default: the built-in models)")
	maxQueue := fs.Int("max-queue", 1024, "requests a model may queue before the server answers UNAVAILABLE")
	gpus := fs.Int("emulated-gpus", 0, "number of emulated GPU devices for KIND_GPU instance groups")
	profile := fs.String("gpu-profile", "h200-mlp", "device profile for the mlp model on emulated GPUs (built-in name or JSON file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := server.Options{Addr: *addr, MetricsAddr: *metrics, MaxQueue: *maxQueue, EmulatedGPUs: *gpus, Version: version, Logger: slog.Default()}
	if *repo != "" {
		r, err := modelrepo.Dir(*repo)
		if err != nil {
			return err
		}
		opts.Repository = &r
	}
	if *gpus > 0 {
		p, err := device.Load(*profile)
		if err != nil {
			return err
		}
		opts.Profiles = map[string]*device.Profile{"mlp": p}
	}
	srv, err := server.New(opts)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	metricsAt := srv.MetricsURL()
	if metricsAt == "" {
		metricsAt = "off"
	}
	fmt.Fprintf(out, "iaasbench serve: gRPC on %s, metrics %s\n", srv.Addr(), metricsAt)
	<-ctx.Done()
	slog.Info("shutting down: draining requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
