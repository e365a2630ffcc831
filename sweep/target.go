package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/hist"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/modelrepo"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/server"
)

// Deployment is what a target offers for one point: the servers to drive.
type Deployment struct {
	Addrs       []string // each server's address (client.ParseEndpoint's syntax)
	MetricsURLs []string // Prometheus endpoint of each server, where known
	Server      string   // server name and version from ServerMetadata
	Emulated    bool     // GPUs are emulated devices
	// Allocation is what the target really allocated, where it knows.
	Allocation *results.Allocation
	// DeviceCalls, where the target runs emulated GPUs in this process
	// (embedded), gives their call durations: the sweep records them with
	// the point so that a simulation can be validated against it.
	DeviceCalls []DeviceCallSource
}

// DeviceCallSource is a server whose emulated devices time their calls
// (*server.Server).
type DeviceCallSource interface {
	ResetDeviceCalls()
	DeviceCalls() *hist.Histogram
}

// Target brings servers into the configuration of a point.
type Target interface {
	// Prepare makes the point's servers run the point's configuration and
	// waits until the model is ready on each.
	Prepare(ctx context.Context, p results.Point) (*Deployment, error)
	// Close stops whatever the target started.
	Close() error
}

// NewTarget builds the target a scenario names; sweepID labels what a
// kubernetes target creates.
func NewTarget(ctx context.Context, s *scenarios.Scenario, log *slog.Logger, version, sweepID string) (Target, error) {
	switch s.Target.Kind {
	case scenarios.TargetKubernetes:
		return NewKubernetes(ctx, s, sweepID, log)
	case scenarios.TargetEmbedded, "":
		return NewEmbedded(s, log, version)
	case scenarios.TargetRemote:
		if s.Target.TLS.InsecureSkipVerify && log != nil {
			log.Warn("TLS certificate verification is OFF (target.tls.insecure_skip_verify): the servers' identity is not checked", "scenario", s.Name)
		}
		return &Remote{URLs: s.Target.URLs, Scenario: s}, nil
	case scenarios.TargetLocal:
		return NewLocal(s, log)
	default:
		return nil, fmt.Errorf("scenario %s: target kind %q is not supported by sweep on this build", s.Name, s.Target.Kind)
	}
}

// Embedded starts in-process servers on loopback as points require.
type Embedded struct {
	scenario *scenarios.Scenario
	log      *slog.Logger
	version  string
	repo     *modelrepo.Repository
	profile  *device.Profile

	servers []*server.Server
	clients []client.Conn
	gpus    int
}

// NewEmbedded prepares an embedded target; servers start on first Prepare.
func NewEmbedded(s *scenarios.Scenario, log *slog.Logger, version string) (*Embedded, error) {
	e := &Embedded{scenario: s, log: log, version: version, gpus: -1}
	if s.Target.Repo != "" {
		r, err := modelrepo.Dir(s.Target.Repo)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: target.repo: %w", s.Name, err)
		}
		e.repo = &r
	}
	p, err := device.Load(s.Server.EmulatedGPUProfile)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: server.emulated_gpu_profile: %w", s.Name, err)
	}
	e.profile = p
	return e, nil
}

// Prepare (re)starts servers when the server or GPU count changes, or a
// server has died, then applies the point's model configuration.
func (e *Embedded) Prepare(ctx context.Context, p results.Point) (*Deployment, error) {
	n := max(p.Servers, 1)
	if len(e.servers) != n || e.gpus != p.GPUs || !e.healthy(ctx) {
		e.stop()
		for i := 0; i < n; i++ {
			profiles := map[string]*device.Profile{}
			// The profile describes the talk's MLP; it applies to the model
			// it was measured for and to ensembles built on it.
			profiles["mlp"] = e.profile
			srv, err := server.New(server.Options{
				Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Repository: e.repo,
				EmulatedGPUs: p.GPUs, Profiles: profiles, Version: e.version,
				MaxQueue: e.scenario.Server.MaxQueueSize, Logger: quiet(e.log),
			})
			if err != nil {
				e.stop()
				return nil, fmt.Errorf("start embedded server: %w", err)
			}
			if err := srv.Start(); err != nil {
				e.stop()
				return nil, fmt.Errorf("start embedded server: %w", err)
			}
			// The model is configured over the protocol the load uses, as a
			// remote target's would be.
			c, err := client.Connect(e.addr(srv), client.Settings{})
			if err != nil {
				srv.Stop()
				e.stop()
				return nil, err
			}
			e.servers = append(e.servers, srv)
			e.clients = append(e.clients, c)
		}
		e.gpus = p.GPUs
	}
	dep := &Deployment{Emulated: p.GPUs > 0, Server: "iaasbench " + e.version}
	for i, c := range e.clients {
		if err := Configure(ctx, c, e.scenario, p); err != nil {
			return nil, err
		}
		dep.Addrs = append(dep.Addrs, e.addr(e.servers[i]))
		dep.MetricsURLs = append(dep.MetricsURLs, e.servers[i].MetricsURL())
		if p.GPUs > 0 {
			dep.DeviceCalls = append(dep.DeviceCalls, e.servers[i])
		}
	}
	return dep, nil
}

// addr is where the workload's protocol reaches an embedded server.
func (e *Embedded) addr(srv *server.Server) string {
	if e.scenario.Protocol() == scenarios.ProtocolHTTP {
		return srv.HTTPURL()
	}
	return srv.Addr()
}

func (e *Embedded) healthy(ctx context.Context) bool {
	for _, c := range e.clients {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		live, err := c.Live(cctx)
		cancel()
		if err != nil || !live {
			return false
		}
	}
	return true
}

// Servers exposes the running servers (tests kill one to check recovery).
func (e *Embedded) Servers() []*server.Server { return e.servers }

func (e *Embedded) stop() {
	for _, c := range e.clients {
		c.Close()
	}
	for _, s := range e.servers {
		s.Stop()
	}
	e.servers, e.clients, e.gpus = nil, nil, -1
}

// Close stops the servers.
func (e *Embedded) Close() error {
	e.stop()
	return nil
}

// quiet keeps the embedded servers' warnings and drops their routine
// logs (a model load per point would drown the sweep's own output).
func quiet(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(levelFilter{log.Handler(), slog.LevelWarn}).With("component", "embedded-server")
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(n), f.min}
}

// Remote drives existing servers (a real Triton or `iaasbench serve`)
// over the protocol of their URLs, with the scenario's TLS settings and
// headers.
type Remote struct {
	URLs     []string
	Scenario *scenarios.Scenario
	clients  map[string]client.Conn
}

// Prepare applies the point's configuration through the repository's
// load with a config override (gRPC or HTTP) on the first `servers` URLs.
func (r *Remote) Prepare(ctx context.Context, p results.Point) (*Deployment, error) {
	n := max(p.Servers, 1)
	if n > len(r.URLs) {
		return nil, fmt.Errorf("point needs %d servers but target.urls lists %d", n, len(r.URLs))
	}
	if r.clients == nil {
		r.clients = map[string]client.Conn{}
	}
	dep := &Deployment{}
	for _, u := range r.URLs[:n] {
		c := r.clients[u]
		if c == nil {
			var err error
			if c, err = client.Connect(u, r.Scenario.Settings()); err != nil {
				return nil, err
			}
			r.clients[u] = c
		}
		if dep.Server == "" {
			if md, err := c.ServerMetadata(ctx); err == nil {
				dep.Server = md.GetName() + " " + md.GetVersion()
			}
		}
		if err := Configure(ctx, c, r.Scenario, p); err != nil {
			return nil, err
		}
		dep.Addrs = append(dep.Addrs, u)
	}
	if len(r.Scenario.Target.MetricsURLs) >= n {
		dep.MetricsURLs = append(dep.MetricsURLs, r.Scenario.Target.MetricsURLs[:n]...)
	}
	return dep, nil
}

// Close closes the connections.
func (r *Remote) Close() error {
	for _, c := range r.clients {
		c.Close()
	}
	return nil
}

// NewLocal returns a target that runs tritonserver processes, or an error
// saying why it cannot.
func NewLocal(s *scenarios.Scenario, log *slog.Logger) (Target, error) {
	bin := s.Target.Tritonserver
	if bin == "" {
		bin = "tritonserver"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: target local needs a tritonserver binary (%q not found on PATH); install Triton or use target kind embedded or remote", s.Name, bin)
	}
	if s.Target.Repo == "" {
		return nil, fmt.Errorf("scenario %s: target local needs target.repo (a model repository for tritonserver)", s.Name)
	}
	return &Local{bin: path, scenario: s, log: log}, nil
}

// Local starts one tritonserver process per server in explicit model
// control mode, then configures it like a remote target.
type Local struct {
	bin      string
	scenario *scenarios.Scenario
	log      *slog.Logger
	procs    []*exec.Cmd
	remote   *Remote
}

// Prepare starts enough tritonserver processes and configures them.
func (l *Local) Prepare(ctx context.Context, p results.Point) (*Deployment, error) {
	n := max(p.Servers, 1)
	if len(l.procs) != n {
		l.Close()
		var urls []string
		for i := 0; i < n; i++ {
			base := 18001 + 10*i
			cmd := exec.Command(l.bin, "--model-repository="+l.scenario.Target.Repo, "--model-control-mode=explicit",
				"--load-model="+l.scenario.Workload.Model, "--grpc-port="+strconv.Itoa(base), "--http-port="+strconv.Itoa(base+1),
				"--metrics-port="+strconv.Itoa(base+2))
			if err := cmd.Start(); err != nil {
				return nil, fmt.Errorf("start %s: %w", l.bin, err)
			}
			l.procs = append(l.procs, cmd)
			u := "127.0.0.1:" + strconv.Itoa(base)
			if l.scenario.Protocol() == scenarios.ProtocolHTTP {
				u = "http://127.0.0.1:" + strconv.Itoa(base+1)
			}
			urls = append(urls, u)
		}
		l.remote = &Remote{URLs: urls, Scenario: l.scenario}
		for _, u := range urls {
			if err := waitLive(ctx, u, 60*time.Second); err != nil {
				return nil, err
			}
		}
	}
	dep, err := l.remote.Prepare(ctx, p)
	if err != nil {
		return nil, err
	}
	for i := range dep.Addrs {
		dep.MetricsURLs = append(dep.MetricsURLs, "http://127.0.0.1:"+strconv.Itoa(18001+10*i+2)+"/metrics")
	}
	return dep, nil
}

// Close stops the processes.
func (l *Local) Close() error {
	if l.remote != nil {
		l.remote.Close()
	}
	for _, c := range l.procs {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	l.procs = nil
	return nil
}

func waitLive(ctx context.Context, addr string, limit time.Duration) error {
	c, err := client.Connect(addr, client.Settings{})
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		live, err := c.Live(cctx)
		cancel()
		if err == nil && live {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("server at %s not live after %v", addr, limit)
}

// Configure applies a point's configuration to the scenario's model on one
// server through the repository's load with a config override (gRPC's
// RepositoryModelLoad or HTTP's /v2/repository/models/<m>/load) — the
// same call works on a real Triton (in explicit model control mode) and
// on the embedded server — then waits until the model is ready and checks
// that it runs the instances asked for. Ensembles are configured through
// their composing models.
func Configure(ctx context.Context, c client.Conn, s *scenarios.Scenario, p results.Point) error {
	return configure(ctx, c, s, p, s.Workload.Model, 0)
}

func configure(ctx context.Context, c client.Conn, s *scenarios.Scenario, p results.Point, model string, depth int) error {
	if depth > 8 {
		return fmt.Errorf("model %s: ensembles nested too deep", model)
	}
	if err := resetForOverride(ctx, c, s, model); err != nil {
		return err
	}
	cfg, err := c.ModelConfig(ctx, model, "")
	if err != nil {
		return fmt.Errorf("configure %s: %w", model, err)
	}
	if cfg.GetPlatform() == "ensemble" {
		seen := map[string]bool{}
		for _, st := range cfg.GetEnsembleScheduling().GetStep() {
			if seen[st.GetModelName()] {
				continue
			}
			seen[st.GetModelName()] = true
			if err := configure(ctx, c, s, p, st.GetModelName(), depth+1); err != nil {
				return fmt.Errorf("ensemble %s: %w", model, err)
			}
		}
		return nil
	}
	want, err := pointConfigWithOverride(cfg, s, p)
	if err != nil {
		return fmt.Errorf("configure %s: %w", model, err)
	}
	if proto.Equal(want, cfg) {
		return nil
	}
	if err := c.Load(ctx, model, want); err != nil {
		return fmt.Errorf("apply configuration %s to %s: %w", p.Key(), model, err)
	}
	ready, err := c.ModelReady(ctx, model, "")
	if err != nil || !ready {
		return fmt.Errorf("model %s not ready after loading configuration %s: %v", model, p.Key(), errors.Join(err))
	}
	got, err := c.ModelConfig(ctx, model, "")
	if err != nil {
		return fmt.Errorf("configure %s: read back: %w", model, err)
	}
	if have, want := instances(got), instances(want); have != want {
		return fmt.Errorf("model %s at %s runs %d instances after loading configuration %s, which asks for %d: the server did not apply it", model, c.Addr(), have, p.Key(), want)
	}
	return nil
}

// instances counts a configuration's model instances: each group's count
// on each of its GPUs (or once without GPUs), as Triton places them.
func instances(cfg *pb.ModelConfig) int {
	n := 0
	for _, g := range cfg.GetInstanceGroup() {
		n += int(g.GetCount()) * max(len(g.GetGpus()), 1)
	}
	return n
}

// pointConfig is cfg with the point's instances and GPUs and the
// scenario's batching and calibrated-model settings.
func pointConfig(cfg *pb.ModelConfig, s *scenarios.Scenario, p results.Point) *pb.ModelConfig {
	out := proto.Clone(cfg).(*pb.ModelConfig)
	count := int32(max(p.Instances, 1))
	g := &pb.ModelInstanceGroup{Name: cfg.GetName(), Count: count, Kind: pb.ModelInstanceGroup_KIND_CPU}
	if p.GPUs > 0 {
		g.Kind = pb.ModelInstanceGroup_KIND_GPU
		for i := 0; i < p.GPUs; i++ {
			g.Gpus = append(g.Gpus, int32(i))
		}
	}
	out.InstanceGroup = []*pb.ModelInstanceGroup{g}
	set := s.Server
	if set.DynamicBatching && out.GetMaxBatchSize() > 0 && out.GetSequenceBatching() == nil {
		db := &pb.ModelDynamicBatching{MaxQueueDelayMicroseconds: uint64(set.MaxQueueDelayUS)}
		for _, b := range set.PreferredBatchSize {
			db.PreferredBatchSize = append(db.PreferredBatchSize, int32(b))
		}
		if set.MaxQueueSize > 0 {
			db.DefaultQueuePolicy = &pb.ModelQueuePolicy{MaxQueueSize: uint32(set.MaxQueueSize)}
		}
		out.SchedulingChoice = &pb.ModelConfig_DynamicBatching{DynamicBatching: db}
	}
	if out.GetBackend() == "iaasbench_calibrated" {
		c := set.Calibrated
		if out.Parameters == nil {
			out.Parameters = map[string]*pb.ModelParameter{}
		}
		if c.BaseUS > 0 {
			out.Parameters["base_us"] = &pb.ModelParameter{StringValue: strconv.FormatFloat(c.BaseUS, 'g', -1, 64)}
		}
		if c.PerItemUS > 0 {
			out.Parameters["per_item_us"] = &pb.ModelParameter{StringValue: strconv.FormatFloat(c.PerItemUS, 'g', -1, 64)}
		}
		if c.Jitter > 0 {
			w := c.Jitter * (c.BaseUS + c.PerItemUS*float64(max(p.BatchSize, 1)))
			out.Parameters["jitter"] = &pb.ModelParameter{StringValue: "uniform:" + strconv.FormatFloat(w, 'g', -1, 64)}
		}
	}
	// Keep the instance group's name stable so an unchanged point is a no-op.
	if len(cfg.GetInstanceGroup()) == 1 && cfg.GetInstanceGroup()[0].GetName() != "" {
		g.Name = cfg.GetInstanceGroup()[0].GetName()
	}
	return out
}
