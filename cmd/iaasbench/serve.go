package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/internal/pprofhttp"
	"github.com/iaasbench/iaasbench/modelrepo"
	"github.com/iaasbench/iaasbench/server"
)

func runServe(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("serve", os.Stderr)
	addr := fs.String("addr", "127.0.0.1:8001", "gRPC listen address (loopback unless you mean otherwise)")
	metrics := fs.String("metrics-addr", "127.0.0.1:8002", `Prometheus metrics address, or "off"`)
	httpAddr := fs.String("http-addr", "127.0.0.1:8000", `KServe v2 HTTP/REST address (Triton's port), or "off"`)
	tlsCert := fs.String("tls-cert", "", "PEM certificate: serve gRPC and HTTP over TLS (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	tlsClientCA := fs.String("tls-client-ca", "", "PEM CA bundle: require client certificates signed by it (mutual TLS)")
	tokenFile := fs.String("auth-token-file", "", "file holding a bearer token every request must carry (authorization: Bearer <token>)")
	exemptHealth := fs.Bool("auth-exempt-health", false, "with --auth-token-file: leave the health checks (live, ready, model ready) open for probes")
	repo := fs.String("repo", "", "model repository directory in Triton's layout (default: the built-in models)")
	maxQueue := fs.Int("max-queue", 1024, "requests a model may queue before the server answers UNAVAILABLE (Triton's max_queue_size; a model's own dynamic_batching.default_queue_policy wins)")
	maxInflight := fs.String("max-inflight-bytes", "auto", `memory for inference requests in flight (bodies, decoded tensors, outputs), e.g. 2GiB; past it an inference request gets RESOURCE_EXHAUSTED (HTTP 503) before its body is read, a streamed one waits; "auto": a sixteenth of RAM or the cgroup limit; "off": no limit`)
	gpus := fs.Int("emulated-gpus", 0, "number of emulated GPU devices; KIND_GPU and KIND_AUTO instance groups (the built-in models') run on them")
	profile := fs.String("gpu-profile", "h200-mlp", "device profile for the mlp model on emulated GPUs (built-in name or JSON file)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiles (go tool pprof http://ADDR/debug/pprof/profile) on this loopback address; off by default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *maxQueue <= 0 {
		return fmt.Errorf("--max-queue %d: want > 0", *maxQueue)
	}
	opts := server.Options{Addr: *addr, MetricsAddr: *metrics, HTTPAddr: *httpAddr, MaxQueue: *maxQueue, EmulatedGPUs: *gpus,
		AuthExemptHealth: *exemptHealth, Version: version, Logger: slog.Default()}
	inflight, err := parseMaxInflight(*maxInflight)
	if err != nil {
		return err
	}
	opts.MaxInflightBytes = inflight
	if *tlsCert != "" || *tlsKey != "" || *tlsClientCA != "" {
		cfg, err := server.LoadTLS(*tlsCert, *tlsKey, *tlsClientCA)
		if err != nil {
			return err
		}
		opts.TLS = cfg
	}
	if *tokenFile != "" {
		tok, err := server.ReadTokenFile(*tokenFile)
		if err != nil {
			return err
		}
		opts.AuthToken = tok
	} else if *exemptHealth {
		return fmt.Errorf("--auth-exempt-health needs --auth-token-file")
	}
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
	var profiles *pprofhttp.Server
	if *pprofAddr != "" {
		var err error
		if profiles, err = pprofhttp.Start(*pprofAddr, slog.Default()); err != nil {
			return err
		}
		defer profiles.Close()
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
	httpAt := srv.HTTPURL()
	if httpAt == "" {
		httpAt = "off"
	}
	grpcAt := "grpc://" + srv.Addr()
	if opts.TLS != nil {
		grpcAt = "grpcs://" + srv.Addr()
	}
	auth := "none"
	if opts.AuthToken != "" {
		auth = "bearer token from " + *tokenFile
	}
	limit := "no limit"
	if opts.MaxInflightBytes > 0 {
		limit = server.FormatBytes(opts.MaxInflightBytes)
		// This process is the server: let the collector work harder near
		// the budget rather than let garbage of past requests pile up.
		debug.SetMemoryLimit(server.MemoryLimitFor(opts.MaxInflightBytes))
	}
	pprofAt := ""
	if profiles != nil {
		pprofAt = ", pprof on http://" + profiles.Addr() + "/debug/pprof/"
	}
	fmt.Fprintf(out, "iaasbench serve: gRPC on %s, HTTP on %s, metrics %s, auth %s, %d emulated GPUs, requests in flight up to %s%s\n",
		grpcAt, httpAt, metricsAt, auth, *gpus, limit, pprofAt)
	<-ctx.Done()
	slog.Info("shutting down: draining requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// parseMaxInflight reads --max-inflight-bytes: auto, off or a size.
func parseMaxInflight(v string) (int64, error) {
	switch v {
	case "auto":
		return server.DefaultMaxInflightBytes(), nil
	case "off":
		return -1, nil
	}
	n, err := server.ParseBytes(v)
	if err != nil {
		return 0, fmt.Errorf("--max-inflight-bytes: %w", err)
	}
	if n <= 0 {
		return 0, fmt.Errorf("--max-inflight-bytes %q: want a positive size, auto or off", v)
	}
	return n, nil
}
