package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/internal/pprofhttp"
	"github.com/iaasbench/iaasbench/modelrepo"
	"github.com/iaasbench/iaasbench/server"
)

var serveHelp = help{
	usage: "serve [flags]",
	about: `Runs the embedded Triton-compatible server: gRPC, KServe v2 HTTP/REST and
Prometheus metrics, the built-in models or a model repository, emulated
GPUs. TLS and tokens: README.md; memory bounds: README.md, Overload and memory.`,
	examples: []string{
		"iaasbench serve",
		"iaasbench serve --emulated-gpus 2",
		"iaasbench serve --repo models/ --addr 0.0.0.0:8001 --http-addr off",
		"iaasbench serve --tls-cert srv.pem --tls-key srv.key --auth-token-file token",
		"iaasbench serve --max-queue 4 --max-inflight-bytes 1GiB",
	},
}

func runServe(ctx context.Context, args []string, out io.Writer) error {
	fs := newCmdFlags("serve", serveHelp)
	addr := fs.String("addr", "127.0.0.1:8001", "gRPC listen `ADDR` (loopback unless you mean otherwise)")
	metrics := fs.String("metrics-addr", "127.0.0.1:8002", "Prometheus metrics `ADDR`, or off")
	httpAddr := fs.String("http-addr", "127.0.0.1:8000", "KServe v2 HTTP/REST `ADDR`, or off")
	tlsCert := fs.String("tls-cert", "", "serve gRPC and HTTP over TLS with this PEM certificate `FILE` (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key `FILE` of --tls-cert")
	tlsClientCA := fs.String("tls-client-ca", "", "require client certificates signed by this PEM CA `FILE` (mutual TLS)")
	tokenFile := fs.String("auth-token-file", "", "require the bearer token held in `FILE` on every request")
	exemptHealth := fs.Bool("auth-exempt-health", false, "with --auth-token-file: leave the health checks open for probes")
	repo := fs.String("repo", "", "model repository `DIR` in Triton's layout (default: the built-in models)")
	maxQueue := fs.Int("max-queue", 1024, "`N` requests a model may queue before the server answers UNAVAILABLE (a model's own queue policy wins)")
	maxInflight := fs.String("max-inflight-bytes", "auto", "memory `SIZE` for requests in flight, e.g. 2GiB; auto: a sixteenth of RAM or the cgroup limit; off: no limit")
	gpus := fs.Int("emulated-gpus", 0, "`N` emulated GPUs; KIND_GPU and KIND_AUTO instance groups run on them")
	profile := fs.String("gpu-profile", "h200-mlp", "device `PROFILE` of the mlp model on emulated GPUs: built-in name or JSON file")
	pprofAddr := fs.String("pprof", "", "serve Go's profiles on this loopback `ADDR` (go tool pprof http://ADDR/debug/pprof/profile)")
	if err := fs.parseFlagsOnly(args, out); err != nil {
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
