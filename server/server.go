// Package server is iaasbench's embedded inference server: it speaks
// Triton's gRPC protocol (KServe v2 plus Triton's statistics, model
// configuration and repository extensions), serves a model repository in
// Triton's layout, and schedules like Triton (instances, dynamic batching,
// sequence batching, ensembles), so that iaasbench runs anywhere without a
// real Triton and measures the same things it would measure there.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/iaasbench/iaasbench/device"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/modelrepo"
)

// Options configure a Server. The zero value serves the built-in models on
// Triton's default loopback ports.
type Options struct {
	// Addr is the gRPC listen address (default 127.0.0.1:8001; port 0
	// picks a free port).
	Addr string
	// MetricsAddr is the Prometheus metrics address (default
	// 127.0.0.1:8002); "off" disables the endpoint.
	MetricsAddr string
	// HTTPAddr is the KServe v2 HTTP/REST address; empty or "off" serves
	// no HTTP (serve's flag defaults to Triton's 127.0.0.1:8000).
	HTTPAddr string
	// TLS, when set, serves gRPC and HTTP over TLS (see LoadTLS); the
	// metrics endpoint stays plain HTTP, as Triton's does.
	TLS *tls.Config
	// AuthToken, when set, is the bearer token every gRPC call and HTTP
	// request must carry (authorization: Bearer <token>), health checks
	// included unless AuthExemptHealth.
	AuthToken        string
	AuthExemptHealth bool
	// Repository to serve; nil serves the built-in repository.
	Repository *modelrepo.Repository
	// MaxQueue bounds each model's queue of waiting requests; past it the
	// server answers UNAVAILABLE rather than growing memory (default 1024).
	MaxQueue int
	// MaxInflightBytes bounds the memory held by inference requests in
	// flight (their bodies, decoded tensors and outputs); past it a
	// ModelInfer call gets RESOURCE_EXHAUSTED before its body is read and
	// a streamed request waits. 0: DefaultMaxInflightBytes (a sixteenth of
	// the machine's or cgroup's memory); negative: no limit.
	MaxInflightBytes int64
	// EmulatedGPUs is the number of emulated GPU devices (0: none).
	EmulatedGPUs int
	// Profiles maps a model name to the device profile its instances follow
	// on emulated GPUs. Nil uses the built-in h200-mlp profile for mlp.
	Profiles map[string]*device.Profile
	// Version is reported in ServerMetadata.
	Version string
	Logger  *slog.Logger
}

// Server is a running embedded server.
type Server struct {
	opts    Options
	repo    modelrepo.Repository
	log     *slog.Logger
	devices []*gpu
	// inflight is the budget of bytes of inference requests in flight.
	inflight *inflight

	mu     sync.RWMutex
	models map[string]*modelEntry
	loadMu sync.Mutex // serialises loads

	grpc       *grpc.Server
	lis        net.Listener
	metrics    *http.Server
	metricsLis net.Listener
	api        *http.Server // KServe v2 HTTP/REST
	apiLis     net.Listener
	auth       *authenticator
	calls      callPool
	// Content-Type values shared by HTTP responses (read-only).
	ctJSON, ctBinary []string
	cancel           context.CancelFunc
	bg               sync.WaitGroup

	pb.UnimplementedGRPCInferenceServiceServer
}

// modelEntry is a loaded model with its served versions.
type modelEntry struct {
	name     string
	versions map[string]*modelVersion
	latest   string
	cfg      *pb.ModelConfig
}

// modelVersion carries what outlives reconfiguration: statistics and live
// sequences.
type modelVersion struct {
	version string
	stats   *modelStats
	rt      *runtime // guarded by Server.mu

	seqMu    sync.Mutex
	seqs     map[string]*sequence
	nextSlot int
}

// New loads every model of the repository and returns a server ready to
// Start. A model that fails to load fails New, naming the model and file.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:8001"
	}
	if opts.MetricsAddr == "" {
		opts.MetricsAddr = "127.0.0.1:8002"
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 1024
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HTTPAddr == "" {
		opts.HTTPAddr = "off"
	}
	if opts.MaxInflightBytes == 0 {
		opts.MaxInflightBytes = DefaultMaxInflightBytes()
	}
	if err := checkServerLimits(opts); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, models: map[string]*modelEntry{}, auth: newAuthenticator(opts.AuthToken, opts.AuthExemptHealth),
		ctJSON: []string{"application/json"}, ctBinary: []string{"application/octet-stream"},
		inflight: newInflight(opts.MaxInflightBytes, opts.Logger)}
	if opts.Repository != nil {
		s.repo = *opts.Repository
	} else {
		s.repo = modelrepo.Builtin()
	}
	profiles := opts.Profiles
	if profiles == nil && opts.EmulatedGPUs > 0 {
		p, err := device.Load(device.Default)
		if err != nil {
			return nil, err
		}
		profiles = map[string]*device.Profile{"mlp": p}
	}
	for i := 0; i < opts.EmulatedGPUs; i++ {
		s.devices = append(s.devices, &gpu{index: i, uuid: deviceUUID(i), profiles: profiles})
	}
	names, err := s.repo.Models()
	if err != nil {
		return nil, err
	}
	// Ensembles last: their steps must be loaded first.
	var ensembles []string
	for _, name := range names {
		cfg, _, err := s.repo.Config(name)
		if err != nil {
			return nil, err
		}
		if cfg.GetPlatform() == "ensemble" {
			ensembles = append(ensembles, name)
			continue
		}
		if err := s.load(name, nil); err != nil {
			return nil, err
		}
	}
	for _, name := range ensembles {
		if err := s.load(name, nil); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	lis, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Addr, err)
	}
	s.lis = lis
	gopts := []grpc.ServerOption{
		// Inference messages are read through the in-flight budget
		// (admission.go), bounded by maxInferMessage; this bounds the rest.
		grpc.MaxRecvMsgSize(maxControlMessage),
		grpc.MaxSendMsgSize(256 << 20),
		// A fixed window (grpc-go then does not grow it): unread data per
		// stream stays below it until the server reads the body.
		grpc.InitialWindowSize(4 << 20),
		grpc.InitialConnWindowSize(16 << 20),
		grpc.InTapHandle(s.tapInference),
		grpc.NumStreamWorkers(grpcWorkers()),
	}
	if s.opts.TLS != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(s.opts.TLS.Clone())))
	}
	if s.auth != nil {
		gopts = append(gopts, grpc.ChainUnaryInterceptor(s.auth.unary), grpc.ChainStreamInterceptor(s.auth.stream))
	}
	s.grpc = grpc.NewServer(gopts...)
	s.grpc.RegisterService(s.serviceDesc(), s)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	fail := func(err error) error {
		s.grpc.Stop()
		lis.Close() // not yet served, so Stop does not close it
		if s.apiLis != nil {
			s.apiLis.Close()
		}
		cancel()
		return err
	}
	if s.opts.HTTPAddr != "off" {
		al, err := net.Listen("tcp", s.opts.HTTPAddr)
		if err != nil {
			return fail(fmt.Errorf("listen for HTTP on %s: %w", s.opts.HTTPAddr, err))
		}
		if s.opts.TLS != nil {
			tc := s.opts.TLS.Clone()
			tc.NextProtos = []string{"http/1.1"} // Triton's HTTP endpoint is HTTP/1.1
			al = tls.NewListener(al, tc)
		}
		s.apiLis = al
		var h http.Handler = s.httpHandler()
		if s.auth != nil {
			h = s.auth.http(h)
		}
		s.api = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	}
	if s.opts.MetricsAddr != "off" {
		hl, err := net.Listen("tcp", s.opts.MetricsAddr)
		if err != nil {
			return fail(fmt.Errorf("listen for metrics on %s: %w", s.opts.MetricsAddr, err))
		}
		s.metricsLis = hl
		mux := http.NewServeMux()
		mux.HandleFunc("/metrics", s.serveMetrics)
		s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}
	s.warnExposure()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("grpc serve", "err", err)
		}
	}()
	for _, hs := range []struct {
		srv  *http.Server
		lis  net.Listener
		what string
	}{{s.api, s.apiLis, "http serve"}, {s.metrics, s.metricsLis, "metrics serve"}} {
		if hs.srv == nil {
			continue
		}
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			if err := hs.srv.Serve(hs.lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error(hs.what, "err", err)
			}
		}()
	}
	s.bg.Add(1)
	go func() { defer s.bg.Done(); s.reapSequences(ctx) }()
	if len(s.devices) > 0 {
		s.bg.Add(1)
		go func() { defer s.bg.Done(); s.sampleDevices(ctx, 100*time.Millisecond) }()
	}
	return nil
}

// Addr is the gRPC address the server listens on.
func (s *Server) Addr() string {
	if s.lis == nil {
		return s.opts.Addr
	}
	return s.lis.Addr().String()
}

// MetricsURL is the Prometheus endpoint, or "" when disabled.
func (s *Server) MetricsURL() string {
	if s.metricsLis == nil {
		return ""
	}
	return "http://" + s.metricsLis.Addr().String() + "/metrics"
}

// HTTPURL is the base URL of the KServe v2 HTTP/REST endpoint
// (http://host:port, https:// with TLS), or "" when disabled.
func (s *Server) HTTPURL() string {
	if s.apiLis == nil {
		return ""
	}
	scheme := "http://"
	if s.opts.TLS != nil {
		scheme = "https://"
	}
	return scheme + s.apiLis.Addr().String()
}

// Shutdown stops accepting requests and drains those in flight, or stops
// hard when ctx ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		if s.grpc != nil {
			s.grpc.GracefulStop()
		}
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.grpc.Stop()
		err = ctx.Err()
	}
	if s.api != nil {
		if err := s.api.Shutdown(ctx); err != nil {
			s.api.Close() // ctx ended: stop hard, as gRPC does
		}
	}
	if s.metrics != nil {
		_ = s.metrics.Shutdown(ctx)
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.bg.Wait()
	s.mu.Lock()
	for _, e := range s.models {
		for _, mv := range e.versions {
			mv.rt.close()
		}
	}
	s.models = map[string]*modelEntry{}
	s.mu.Unlock()
	return err
}

// Stop stops at once: connections are closed and requests fail.
func (s *Server) Stop() {
	if s.grpc != nil {
		s.grpc.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
}

// load loads (or reloads) a model; override, when given, replaces its
// config.pbtxt as Triton's load-with-config does. Requests in flight finish
// on the old configuration.
func (s *Server) load(name string, override *pb.ModelConfig) error {
	var versions []int64
	cfg, vs, err := s.repo.Config(name)
	if override != nil {
		if err != nil && cfg == nil {
			vs = []int64{1} // a model given only by its config, as Triton allows
		}
		cfg, err = override, nil
		if cfg.Name == "" {
			cfg.Name = name
		}
		if cfg.Name != name {
			return status.Errorf(codes.InvalidArgument, "config override names model %q but the request loads %q", cfg.Name, name)
		}
	}
	if err != nil {
		return status.Error(codes.NotFound, err.Error())
	}
	versions = vs
	if err := validateConfig(cfg); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	cfg = applyDefaults(cfg)
	place(cfg, len(s.devices))

	s.loadMu.Lock() // one load at a time: the instance limit counts the others
	defer s.loadMu.Unlock()
	if err := s.checkInstances(name, cfg, len(versions)); err != nil {
		return err
	}
	s.mu.RLock()
	old := s.models[name]
	s.mu.RUnlock()
	e := &modelEntry{name: name, versions: map[string]*modelVersion{}, cfg: cfg}
	for _, v := range versions {
		vstr := strconv.FormatInt(v, 10)
		mv := &modelVersion{version: vstr, stats: newModelStats(), seqs: map[string]*sequence{}}
		if old != nil && old.versions[vstr] != nil {
			o := old.versions[vstr]
			mv.stats = o.stats // statistics are cumulative across reloads
			o.seqMu.Lock()
			mv.seqs, mv.nextSlot = o.seqs, o.nextSlot // live sequences keep their state
			o.seqMu.Unlock()
		}
		rt, err := newRuntime(s, mv, cfg)
		if err != nil {
			for _, done := range e.versions {
				done.rt.close()
			}
			return status.Errorf(codes.InvalidArgument, "load model %q: %v", name, err)
		}
		mv.rt = rt
		e.versions[vstr] = mv
		e.latest = vstr
	}
	s.mu.Lock()
	s.models[name] = e
	s.mu.Unlock()
	if old != nil {
		for _, mv := range old.versions {
			mv.rt.close()
		}
	}
	s.log.Info("model loaded", "model", name, "versions", versions, "instances", instanceSummary(cfg), "emulated_gpus", len(s.devices))
	return nil
}

func instanceSummary(cfg *pb.ModelConfig) string {
	if cfg.GetPlatform() == "ensemble" {
		return "ensemble"
	}
	out := ""
	for _, g := range cfg.GetInstanceGroup() {
		out += fmt.Sprintf("%d×%s%v ", g.GetCount(), g.GetKind(), g.GetGpus())
	}
	return out
}

func (s *Server) unload(name string) error {
	s.mu.Lock()
	e := s.models[name]
	delete(s.models, name)
	s.mu.Unlock()
	if e == nil {
		return status.Errorf(codes.NotFound, "model %q is not loaded", name)
	}
	for _, mv := range e.versions {
		mv.rt.close()
	}
	s.log.Info("model unloaded", "model", name)
	return nil
}

// lookup finds a served model version ("" = latest).
func (s *Server) lookup(name, version string) (*modelVersion, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lookupLocked(name, version)
}

func (s *Server) lookupLocked(name, version string) (*modelVersion, error) {
	e := s.models[name]
	if e == nil {
		return nil, status.Errorf(codes.NotFound, "model %q is not loaded (loaded: %s)", name, s.loadedNamesLocked())
	}
	if version == "" {
		version = e.latest
	}
	mv := e.versions[version]
	if mv == nil {
		var vs []string
		for v := range e.versions {
			vs = append(vs, v)
		}
		sort.Strings(vs)
		return nil, status.Errorf(codes.NotFound, "model %q has no version %q (served versions: %v)", name, version, vs)
	}
	return mv, nil
}

func (s *Server) loadedNamesLocked() string {
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return fmt.Sprint(names)
}

// acquire returns the current runtime of a model version, held against
// reconfiguration until release.
func (s *Server) acquire(name, version string) (*runtime, error) {
	for {
		s.mu.RLock()
		mv, err := s.lookupLocked(name, version)
		if err != nil {
			s.mu.RUnlock()
			return nil, err
		}
		rt := mv.rt
		s.mu.RUnlock()
		if rt.acquire() {
			return rt, nil
		}
		// Swapped out between lookup and acquire: the new one is in place.
		time.Sleep(50 * time.Microsecond)
	}
}

// reapSequences ends sequences idle longer than their model's
// max_sequence_idle_microseconds, as Triton's sequence batcher does.
func (s *Server) reapSequences(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.mu.RLock()
			for _, e := range s.models {
				idle := time.Duration(e.cfg.GetSequenceBatching().GetMaxSequenceIdleMicroseconds()) * time.Microsecond
				if e.cfg.GetSequenceBatching() == nil {
					continue
				}
				if idle <= 0 {
					idle = time.Second // Triton's default
				}
				for _, mv := range e.versions {
					mv.seqMu.Lock()
					for k, sq := range mv.seqs {
						if now.UnixNano()-sq.last.Load() > int64(idle) {
							delete(mv.seqs, k)
							s.log.Debug("sequence timed out", "model", e.name, "sequence", k)
						}
					}
					mv.seqMu.Unlock()
				}
			}
			s.mu.RUnlock()
		}
	}
}

// ---- gRPC service ----

// ServerLive reports liveness.
func (s *Server) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

// ServerReady reports readiness: every loaded model is ready.
func (s *Server) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: true}, nil
}

// ModelReady reports whether a model version is loaded.
func (s *Server) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	_, err := s.lookup(r.GetName(), r.GetVersion())
	return &pb.ModelReadyResponse{Ready: err == nil}, nil
}

// ServerMetadata names the server and its extensions.
func (s *Server) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	return &pb.ServerMetadataResponse{
		Name:       "iaasbench",
		Version:    s.opts.Version,
		Extensions: []string{"binary_tensor_data", "model_configuration", "model_repository", "model_repository(unload_dependents)", "schedule_policy", "sequence", "statistics"},
	}, nil
}

// ModelMetadata describes a model's tensors.
func (s *Server) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	mv, err := s.lookupLocked(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	e := s.models[r.GetName()]
	cfg := mv.rt.cfg
	out := &pb.ModelMetadataResponse{Name: cfg.Name, Platform: platformOf(cfg)}
	for v := range e.versions {
		out.Versions = append(out.Versions, v)
	}
	sort.Strings(out.Versions)
	batch := cfg.GetMaxBatchSize() > 0
	for _, in := range cfg.GetInput() {
		out.Inputs = append(out.Inputs, &pb.ModelMetadataResponse_TensorMetadata{Name: in.Name, Datatype: wireDatatype(in.GetDataType()), Shape: fullShape(batch, in.Dims)})
	}
	for _, o := range cfg.GetOutput() {
		out.Outputs = append(out.Outputs, &pb.ModelMetadataResponse_TensorMetadata{Name: o.Name, Datatype: wireDatatype(o.GetDataType()), Shape: fullShape(batch, o.Dims)})
	}
	return out, nil
}

func platformOf(cfg *pb.ModelConfig) string {
	if cfg.GetPlatform() != "" {
		return cfg.GetPlatform()
	}
	return cfg.GetBackend()
}

func fullShape(batch bool, dims []int64) []int64 {
	if !batch {
		return append([]int64{}, dims...)
	}
	return append([]int64{-1}, dims...)
}

// ModelConfig returns the configuration a model runs with now.
func (s *Server) ModelConfig(_ context.Context, r *pb.ModelConfigRequest) (*pb.ModelConfigResponse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	mv, err := s.lookupLocked(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &pb.ModelConfigResponse{Config: mv.rt.cfg}, nil
}

// ModelStatistics returns cumulative statistics of one or all models.
func (s *Server) ModelStatistics(_ context.Context, r *pb.ModelStatisticsRequest) (*pb.ModelStatisticsResponse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := &pb.ModelStatisticsResponse{}
	if r.GetName() != "" && r.GetVersion() != "" {
		mv, err := s.lookupLocked(r.GetName(), r.GetVersion())
		if err != nil {
			return nil, err
		}
		out.ModelStats = append(out.ModelStats, mv.stats.pb(r.GetName(), mv.version))
		return out, nil
	}
	if r.GetName() != "" {
		// Every served version of the model, as Triton answers.
		if _, err := s.lookupLocked(r.GetName(), ""); err != nil {
			return nil, err
		}
		vs := make([]string, 0, len(s.models[r.GetName()].versions))
		for v := range s.models[r.GetName()].versions {
			vs = append(vs, v)
		}
		sort.Strings(vs)
		for _, v := range vs {
			out.ModelStats = append(out.ModelStats, s.models[r.GetName()].versions[v].stats.pb(r.GetName(), v))
		}
		return out, nil
	}
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, mv := range s.models[n].versions {
			out.ModelStats = append(out.ModelStats, mv.stats.pb(n, mv.version))
		}
	}
	return out, nil
}

// RepositoryIndex lists the repository's models and their state.
func (s *Server) RepositoryIndex(_ context.Context, r *pb.RepositoryIndexRequest) (*pb.RepositoryIndexResponse, error) {
	names, err := s.repo.Models()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[string]bool{}
	out := &pb.RepositoryIndexResponse{}
	for _, n := range names {
		seen[n] = true
		if e := s.models[n]; e != nil {
			out.Models = append(out.Models, &pb.RepositoryIndexResponse_ModelIndex{Name: n, Version: e.latest, State: "READY"})
		} else if !r.GetReady() {
			out.Models = append(out.Models, &pb.RepositoryIndexResponse_ModelIndex{Name: n, State: "UNAVAILABLE", Reason: "unloaded"})
		}
	}
	for n, e := range s.models {
		if !seen[n] {
			out.Models = append(out.Models, &pb.RepositoryIndexResponse_ModelIndex{Name: n, Version: e.latest, State: "READY"})
		}
	}
	return out, nil
}

// RepositoryModelLoad loads or reloads a model. The "config" parameter, a
// ModelConfig in JSON, overrides the model's config.pbtxt as in Triton.
func (s *Server) RepositoryModelLoad(_ context.Context, r *pb.RepositoryModelLoadRequest) (*pb.RepositoryModelLoadResponse, error) {
	if err := checkLoadRequest(r); err != nil {
		return nil, err
	}
	var override *pb.ModelConfig
	if p, ok := r.GetParameters()["config"]; ok {
		raw := p.GetStringParam()
		if raw == "" {
			raw = string(p.GetBytesParam())
		}
		override = &pb.ModelConfig{}
		if err := protojson.Unmarshal([]byte(raw), override); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "load %q: parameter config is not a ModelConfig in JSON: %v", r.GetModelName(), err)
		}
	}
	if err := s.load(r.GetModelName(), override); err != nil {
		return nil, err
	}
	return &pb.RepositoryModelLoadResponse{}, nil
}

// RepositoryModelUnload unloads a model.
func (s *Server) RepositoryModelUnload(_ context.Context, r *pb.RepositoryModelUnloadRequest) (*pb.RepositoryModelUnloadResponse, error) {
	if err := checkModelName(fmt.Sprintf("unload %.64q", r.GetModelName()), r.GetModelName()); err != nil {
		return nil, err
	}
	if err := s.unload(r.GetModelName()); err != nil {
		return nil, err
	}
	return &pb.RepositoryModelUnloadResponse{}, nil
}

func floatBits(f float64) uint64 { return math.Float64bits(f) }
func bitsFloat(b uint64) float64 { return math.Float64frombits(b) }
