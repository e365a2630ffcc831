//go:build k8s

// Tests against a real control plane (internal/k8sharness): run with
// `make test-k8s` (go test -tags k8s ./k8s/...) after `make k8s-tools`.
package k8s_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/internal/k8sharness"
	"github.com/iaasbench/iaasbench/k8s"
	"github.com/iaasbench/iaasbench/k8s/spec"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/sweep"
)

const product = "NVIDIA-H100-80GB-HBM3"

// cluster is shared by the tests: starting it costs 5–10 s. Each test
// uses its own namespace.
type cluster struct {
	cp *k8sharness.ControlPlane
}

// testCluster is set once by TestMain before any test runs and only read
// afterwards.
var testCluster cluster

func TestMain(m *testing.M) {
	// The trap: a Ctrl-C or SIGTERM during the tests stops the control
	// plane before exiting (Pdeathsig covers a SIGKILL).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	cp, err := k8sharness.Start(ctx, k8sharness.Options{Log: os.Stderr, Nodes: []k8sharness.Node{
		{Name: "gpu-a", GPUs: 4, GPUProduct: product, InstanceType: "gpu-4x"},
		{Name: "gpu-b", GPUs: 2, GPUProduct: product, InstanceType: "gpu-2x"},
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start control plane:", err)
		os.Exit(1)
	}
	testCluster.cp = cp
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "%v: stopping the control plane\n", sig)
		cancel()
		_ = cp.Stop()
		os.Exit(130)
	}()
	code := m.Run()
	signal.Stop(sigs)
	cancel()
	pids := cp.Pids()
	if err := cp.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop control plane:", err)
		code = 1
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			fmt.Fprintf(os.Stderr, "control-plane process %d still alive after Stop\n", pid)
			code = 1
		}
	}
	os.Exit(code)
}

// env is one test's namespace with fake Triton servers on its pods.
type env struct {
	t    *testing.T
	ns   string
	cp   *k8sharness.ControlPlane
	fake *k8sharness.FakeTriton
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ns := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(ns) > 50 {
		ns = ns[:50]
	}
	cp := testCluster.cp
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cp.WaitNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ns: ns, cp: cp}
	e.fake = cp.ServeFakeTriton(context.Background(), ns, k8s.LabelManagedBy+"="+k8s.ManagedBy, spec.DefaultGPUResource)
	t.Cleanup(func() {
		e.fake.Stop()
		for _, err := range e.fake.Errors() {
			t.Errorf("fake triton: %v", err)
		}
	})
	return e
}

func (e *env) config() k8s.Config {
	return k8s.Config{Kubeconfig: e.cp.Kubeconfig, Namespace: e.ns, ModelRepository: "/models", Image: "tritonserver:test",
		ReadyTimeout: "60s", ScheduleTimeout: "2s"}
}

func (e *env) target(ctx context.Context, cfg k8s.Config, sweepID string, configure k8s.Configurer) *k8s.Target {
	e.t.Helper()
	tg, err := k8s.New(ctx, k8s.Options{Config: cfg, Scenario: "quickstart", SweepID: sweepID, Model: "mlp",
		Client: e.cp.Client, Configure: configure})
	if err != nil {
		e.t.Fatal(err)
	}
	return tg
}

func (e *env) deployment(ctx context.Context, name string) *appsv1.Deployment {
	e.t.Helper()
	d, err := e.cp.Client.AppsV1().Deployments(e.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) pods(ctx context.Context) []corev1.Pod {
	e.t.Helper()
	l, err := e.cp.Client.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.LabelManagedBy + "=" + k8s.ManagedBy})
	if err != nil {
		e.t.Fatal(err)
	}
	return l.Items
}

// assertGone checks that nothing labelled with the sweep is left.
func (e *env) assertGone(ctx context.Context, sweepID string) {
	e.t.Helper()
	sel := metav1.ListOptions{LabelSelector: k8s.LabelSweep + "=" + k8s.SweepLabel(sweepID)}
	deps, err := e.cp.Client.AppsV1().Deployments(e.ns).List(ctx, sel)
	if err != nil {
		e.t.Fatal(err)
	}
	svcs, err := e.cp.Client.CoreV1().Services(e.ns).List(ctx, sel)
	if err != nil {
		e.t.Fatal(err)
	}
	pods, err := e.cp.Client.CoreV1().Pods(e.ns).List(ctx, sel)
	if err != nil {
		e.t.Fatal(err)
	}
	if n := len(deps.Items) + len(svcs.Items) + len(pods.Items); n > 0 {
		e.t.Errorf("after Close: %d deployments, %d services, %d pods of sweep %s remain", len(deps.Items), len(svcs.Items), len(pods.Items), sweepID)
	}
}

func uids(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, string(p.UID))
	}
	slices.Sort(out)
	return out
}

func TestScaleReplicasAndGPUs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var configured atomic.Int32
	tg := e.target(ctx, e.config(), "scale-1", func(ctx context.Context, c client.Conn, p results.Point) error {
		configured.Add(1)
		cfg, err := c.ModelConfig(ctx, "mlp", "") // a real gRPC call to the pod's server
		if err != nil || cfg.GetName() != "mlp" {
			return fmt.Errorf("model config over gRPC: %v %v", cfg, err)
		}
		return nil
	})
	defer tg.Close()
	name := tg.Config().Name

	start := time.Now()
	srv, err := tg.Prepare(ctx, results.Point{Servers: 1, GPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first point ready in %v: %+v", time.Since(start).Round(time.Millisecond), srv)
	if len(srv.Addrs) != 1 || !strings.HasPrefix(srv.Addrs[0], "127.20.") || !strings.HasSuffix(srv.Addrs[0], ":8001") {
		t.Errorf("addrs %v: want one pod IP in 127.20.0.0/16 on port 8001", srv.Addrs)
	}
	if want := (k8s.Allocation{GPUProduct: product, GPUs: 1, Nodes: 1}); srv.Allocation.GPUProduct != want.GPUProduct ||
		srv.Allocation.GPUs != 1 || srv.Allocation.Nodes != 1 || !strings.HasPrefix(srv.Allocation.InstanceType, "gpu-") {
		t.Errorf("allocation %+v, want %+v", srv.Allocation, want)
	}
	if srv.Server != "iaasbench fake-triton" {
		t.Errorf("server %q: want the pod's ServerMetadata", srv.Server)
	}
	svc, err := e.cp.Client.CoreV1().Services(e.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != corev1.ClusterIPNone || svc.Labels[k8s.LabelSweep] != "scale-1" {
		t.Errorf("headless service: %v %v", svc, err)
	}
	first := e.pods(ctx)

	// Same GPUs, more servers: a scale, keeping the running pod.
	srv, err = tg.Prepare(ctx, results.Point{Servers: 3, GPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	d := e.deployment(ctx, name)
	if *d.Spec.Replicas != 3 || len(srv.Addrs) != 3 || srv.Allocation.GPUs != 3 {
		t.Errorf("after scaling to 3: replicas %d, addrs %v, allocation %+v", *d.Spec.Replicas, srv.Addrs, srv.Allocation)
	}
	pods := e.pods(ctx)
	if !slices.Contains(uids(pods), string(first[0].UID)) {
		t.Errorf("scaling 1→3 replaced the running pod %s (now %v)", first[0].Name, uids(pods))
	}
	if len(slices.Compact(slices.Clone(srv.Addrs))) != 3 {
		t.Errorf("servers share addresses: %v", srv.Addrs)
	}

	// More GPUs per server: a new pod template, every pod replaced.
	srv, err = tg.Prepare(ctx, results.Point{Servers: 2, GPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	d = e.deployment(ctx, name)
	q := d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceName(spec.DefaultGPUResource)]
	if *d.Spec.Replicas != 2 || q.Value() != 2 {
		t.Errorf("after 2×2: replicas %d, GPU limit %s", *d.Spec.Replicas, q.String())
	}
	pods = e.pods(ctx)
	var live []corev1.Pod
	nodes := map[string]bool{}
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
			nodes[p.Spec.NodeName] = true
		}
		if slices.Contains(uids(first), string(p.UID)) {
			t.Errorf("pod %s of the 1-GPU template survived a GPU change", p.Name)
		}
	}
	if len(live) != 2 || srv.Allocation.GPUs != 4 || srv.Allocation.Nodes != len(nodes) {
		t.Errorf("2×2: %d live pods on %v, allocation %+v", len(live), nodes, srv.Allocation)
	}
	if configured.Load() != 1+3+2 {
		t.Errorf("configure ran %d times, want once per server per point (6)", configured.Load())
	}

	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	e.assertGone(ctx, "scale-1")
}

func TestPointThatDoesNotFitFailsWithSchedulerReason(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tg := e.target(ctx, e.config(), "nofit-1", nil)
	defer tg.Close()
	start := time.Now()
	// No node has 8 GPUs.
	_, err := tg.Prepare(ctx, results.Point{Servers: 1, GPUs: 8})
	var pf *k8s.PodFailure
	if !errors.As(err, &pf) || pf.Reason != "Unschedulable" || !strings.Contains(err.Error(), "Insufficient nvidia.com/gpu") {
		t.Fatalf("want the scheduler's Insufficient nvidia.com/gpu, got %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("failing took %v: schedule_timeout is 2s", took)
	}
	t.Logf("failed in %v: %v", time.Since(start).Round(time.Millisecond), err)
	// The sweep goes on: the next point that fits works.
	srv, err := tg.Prepare(ctx, results.Point{Servers: 2, GPUs: 1})
	if err != nil {
		t.Fatalf("the point after a failed one: %v", err)
	}
	if len(srv.Addrs) != 2 {
		t.Errorf("addrs %v", srv.Addrs)
	}
	// Seven servers of one GPU do not fit six GPUs: the 7th pod stays
	// pending and fails the point.
	if _, err := tg.Prepare(ctx, results.Point{Servers: 7, GPUs: 1}); err == nil || !strings.Contains(err.Error(), "Insufficient nvidia.com/gpu") {
		t.Errorf("7 servers on 6 GPUs: %v", err)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	e.assertGone(ctx, "nofit-1")
}

func TestImagePullAndCrashLoopFailThePoint(t *testing.T) {
	for _, c := range []struct{ image, reason, detail string }{
		{"iaasbench.invalid/pull-error", "ImagePullBackOff", "Back-off pulling image"},
		{"iaasbench.invalid/crash", "CrashLoopBackOff", "failed to load all models"},
	} {
		t.Run(c.reason, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			cfg := e.config()
			cfg.Image = c.image
			tg := e.target(ctx, cfg, "fault-1", nil)
			start := time.Now()
			_, err := tg.Prepare(ctx, results.Point{Servers: 1, GPUs: 1})
			var pf *k8s.PodFailure
			if !errors.As(err, &pf) || pf.Reason != c.reason || !strings.Contains(err.Error(), c.detail) {
				t.Errorf("want %s (%s), got %v", c.reason, c.detail, err)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("failing took %v, want well under ready_timeout (60s)", took)
			}
			if err := tg.Close(); err != nil {
				t.Fatal(err)
			}
			e.assertGone(ctx, "fault-1")
		})
	}
}

func TestAdoptOwnObjectsRefuseOthers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	keep := e.config()
	keep.Keep = true

	a := e.target(ctx, keep, "adopt-1", nil)
	if _, err := a.Prepare(ctx, results.Point{Servers: 2, GPUs: 1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	before := uids(e.pods(ctx))
	if len(before) != 2 {
		t.Fatalf("keep: want the 2 pods left running, have %d", len(before))
	}

	// Another sweep refuses them, naming the owner.
	_, err := k8s.New(ctx, k8s.Options{Config: e.config(), Scenario: "quickstart", SweepID: "adopt-2", Model: "mlp", Client: e.cp.Client})
	if !errors.Is(err, k8s.ErrNotOwned) || !strings.Contains(err.Error(), `belongs to sweep "adopt-1"`) {
		t.Errorf("another sweep: want ErrNotOwned naming adopt-1, got %v", err)
	}

	// The same sweep (a resume) adopts them without restarting a pod.
	b := e.target(ctx, e.config(), "adopt-1", nil)
	srv, err := b.Prepare(ctx, results.Point{Servers: 2, GPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if after := uids(e.pods(ctx)); !slices.Equal(after, before) || len(srv.Addrs) != 2 {
		t.Errorf("adopting restarted pods: before %v, after %v", before, after)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	e.assertGone(ctx, "adopt-1")

	// Objects of the same name without iaasbench's labels: refused, and
	// never deleted, even by a target that started before they appeared.
	c := e.target(ctx, e.config(), "adopt-3", nil)
	foreign := k8s.Manifests(c.Config(), "someone", "mlp", 1, 0, "").Deployment
	foreign.Labels, foreign.Spec.Template.Spec.Containers[0].Resources = map[string]string{"team": "search"}, corev1.ResourceRequirements{}
	if _, err := e.cp.Client.AppsV1().Deployments(e.ns).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = k8s.New(ctx, k8s.Options{Config: e.config(), Scenario: "quickstart", SweepID: "adopt-4", Model: "mlp", Client: e.cp.Client})
	if !errors.Is(err, k8s.ErrNotOwned) || !strings.Contains(err.Error(), "not managed by iaasbench") {
		t.Errorf("foreign deployment: want ErrNotOwned, got %v", err)
	}
	if _, err := c.Prepare(ctx, results.Point{Servers: 1, GPUs: 1}); !errors.Is(err, k8s.ErrNotOwned) {
		t.Errorf("Prepare over a foreign deployment: want ErrNotOwned, got %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cp.Client.AppsV1().Deployments(e.ns).Get(ctx, foreign.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("Close deleted a deployment it does not own: %v", err)
	}
}

// TestSweepMeasuresOnPodsAndCleansUpOnCancel runs the real sweep with
// the real measurer over gRPC to the pods, and cancels it during the
// second point, as Ctrl-C does: Close must still remove everything.
func TestSweepMeasuresOnPodsAndCleansUpOnCancel(t *testing.T) {
	e := newEnv(t)
	s, err := scenarios.Parse([]byte(`
name: k8s-e2e
server: {emulated_gpu_profile: h200-mlp}  # parsed as embedded, then pointed at the cluster
workload: {model: mlp, mode: closed, rpc: unary}
dimensions:
  gpus: [1, 2]
  servers: [2]
  batch_size: 8
measure: {warmup: 100ms, duration: 400ms}
`), "k8s-e2e.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const sweepID = "k8s-e2e-0a1b2c3d"
	s.Target = scenarios.Target{Kind: scenarios.TargetKubernetes, Kubernetes: e.config()}
	kt, err := sweep.NewKubernetes(ctx, s, sweepID, nil)
	if err != nil {
		t.Fatal(err)
	}
	real := sweep.MeasureWith(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	points := 0
	measurer := func(mctx context.Context, dep *sweep.Deployment, s *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		points++
		if points == 2 {
			cancel() // Ctrl-C while the second point is being measured
			<-mctx.Done()
			return nil, mctx.Err()
		}
		return real(mctx, dep, s, p)
	}
	sum, err := sweep.Run(ctx, sweep.Options{Scenario: s, ResultsPath: filepath.Join(t.TempDir(), "r.jsonl"), Target: kt, Measure: measurer, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Stopped {
		t.Errorf("sweep not stopped by the cancel: %+v", sum)
	}
	var ok *results.Record
	for i, r := range sum.Records {
		if r.Kind == "point" && r.Status == results.StatusOK {
			ok = &sum.Records[i]
		}
	}
	if ok == nil || ok.Measurement == nil || ok.Measurement.Requests == 0 || ok.Measurement.Errors != 0 {
		t.Fatalf("want the first point measured over gRPC on the pods, records: %+v", sum.Records)
	}
	t.Logf("point %s: %d requests, %.0f inferences/s, p99 %.0f µs", ok.Point.Key(), ok.Measurement.Requests, ok.Measurement.ThroughputIPS, ok.Measurement.Latency.P99US)
	// The record carries what was really allocated, for its expense.
	if a := ok.Allocation; a == nil || a.GPUProduct != product || a.GPUs < 2 {
		t.Errorf("allocation recorded with the point: %+v", a)
	}
	// As `iaasbench sweep` does on the way out (defer), after the cancel.
	if err := kt.Close(); err != nil {
		t.Fatal(err)
	}
	e.assertGone(context.Background(), sweepID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		running, started := e.fake.Running()
		if running == 0 && started >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("fake servers: %d running, %d started; want all stopped with their pods", running, started)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := e.cp.Client.CoreV1().Services(e.ns).Get(context.Background(), spec.ObjectName("k8s-e2e"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service still there: %v", err)
	}
}

// TestSweepOverHTTPMeasuresOnPods is the sweep above with
// workload.protocol: http: the target hands out http://pod-IP:8000,
// waits for the model and applies each point's instances through the
// HTTP repository load, the Service exposes the http port, and the real
// measurer's load reaches the pods over KServe v2 REST (JSON tensors).
func TestSweepOverHTTPMeasuresOnPods(t *testing.T) {
	e := newEnv(t)
	s, err := scenarios.Parse([]byte(`
name: k8s-http
server: {emulated_gpu_profile: h200-mlp}  # parsed as embedded, then pointed at the cluster
workload: {model: mlp, mode: closed, rpc: unary, protocol: http, http_encoding: json}
dimensions:
  gpus: [1]
  servers: [2]
  instances: [1, 3]
  batch_size: 8
measure: {warmup: 100ms, duration: 300ms}
`), "k8s-http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const sweepID = "k8s-http-0a1b2c3d"
	s.Target = scenarios.Target{Kind: scenarios.TargetKubernetes, Kubernetes: e.config()}
	if err := s.ValidateConnection(); err != nil {
		t.Fatalf("kubernetes over http refused: %v", err)
	}
	kt, err := sweep.NewKubernetes(ctx, s, sweepID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer kt.Close()
	real := sweep.MeasureWith(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	measurer := func(mctx context.Context, dep *sweep.Deployment, s *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		if len(dep.Addrs) != 2 {
			return nil, fmt.Errorf("point %s: addrs %v, want 2", p.Key(), dep.Addrs)
		}
		for _, a := range dep.Addrs {
			if !strings.HasPrefix(a, "http://127.20.") || !strings.HasSuffix(a, ":8000") {
				return nil, fmt.Errorf("addr %s: want http://<pod IP in 127.20.0.0/16>:8000", a)
			}
			// What the target applied, read back over HTTP from the pod.
			c, err := client.Connect(a, client.Settings{})
			if err != nil {
				return nil, err
			}
			cfg, err := c.ModelConfig(mctx, "mlp", "")
			c.Close()
			if err != nil {
				return nil, fmt.Errorf("model config over HTTP from %s: %w", a, err)
			}
			if g := cfg.GetInstanceGroup(); len(g) != 1 || int(g[0].GetCount()) != p.Instances {
				return nil, fmt.Errorf("pod %s runs instance groups %v at point %s", a, g, p.Key())
			}
		}
		return real(mctx, dep, s, p)
	}
	sum, err := sweep.Run(ctx, sweep.Options{Scenario: s, ResultsPath: filepath.Join(t.TempDir(), "r.jsonl"), Target: kt, Measure: measurer, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	var ok int
	for _, r := range sum.Records {
		if r.Kind != "point" {
			continue
		}
		m := r.Measurement
		if r.Status != results.StatusOK || m == nil || m.Requests == 0 || m.Errors != 0 {
			t.Errorf("point %s: %s %s, measurement %+v", r.Point.Key(), r.Status, r.Reason, m)
			continue
		}
		if c := results.ConnectionOf(m); c.Protocol != "http" || c.Encoding != client.EncodingJSON || c.TLS {
			t.Errorf("point %s measured over %s, want http (json)", r.Point.Key(), c)
		}
		ok++
		t.Logf("point %s over %s: %d requests, %.0f inferences/s, p99 %.0f µs", r.Point.Key(), results.ConnectionOf(m), m.Requests, m.ThroughputIPS, m.Latency.P99US)
	}
	if ok != 2 {
		t.Fatalf("want both points measured over HTTP on the pods, records: %+v", sum.Records)
	}
	svc, err := e.cp.Client.CoreV1().Services(e.ns).Get(ctx, spec.ObjectName("k8s-http"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
	}
	if !slices.Equal(ports, []string{"grpc:8001", "http:8000", "metrics:8002"}) {
		t.Errorf("service ports %v: want the http port beside grpc and metrics", ports)
	}
	if err := kt.Close(); err != nil {
		t.Fatal(err)
	}
	e.assertGone(ctx, sweepID)
}

// The target's own calls (ModelReady, configuration, ServerMetadata) go
// over the protocol it is given: a configurer sees an HTTP connection.
func TestTargetConfiguresOverHTTP(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var seen atomic.Int32
	tg, err := k8s.New(ctx, k8s.Options{Config: e.config(), Scenario: "quickstart", SweepID: "http-1", Model: "mlp",
		Client: e.cp.Client, Protocol: client.HTTP, Conn: client.Settings{HTTPEncoding: client.EncodingJSON},
		Configure: func(ctx context.Context, c client.Conn, p results.Point) error {
			if e := c.Endpoint(); e.Protocol != client.HTTP || e.TLS || !strings.HasSuffix(e.Host, ":8000") {
				return fmt.Errorf("configurer reached the pod at %s, want plaintext HTTP on port 8000", e)
			}
			if err := c.Load(ctx, "mlp", nil); err != nil { // a real HTTP repository load on the pod
				return fmt.Errorf("load over HTTP: %w", err)
			}
			seen.Add(1)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	srv, err := tg.Prepare(ctx, results.Point{Servers: 2, GPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if seen.Load() != 2 || len(srv.Addrs) != 2 || !strings.HasPrefix(srv.Addrs[0], "http://") || srv.Server != "iaasbench fake-triton" {
		t.Errorf("configured %d pods; servers %+v", seen.Load(), srv)
	}
	if _, err := k8s.New(ctx, k8s.Options{Config: e.config(), Scenario: "quickstart", SweepID: "http-2", Model: "mlp",
		Client: e.cp.Client, Protocol: "soap"}); err == nil || !strings.Contains(err.Error(), `protocol "soap"`) {
		t.Errorf("unknown protocol: %v", err)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	e.assertGone(ctx, "http-1")
}

// TestManifestsAcceptedByAPIServer sends the dry-run YAML (what `iaasbench
// k8s manifests` prints) to the API server with server-side dry run: the
// API's own validation must accept every variant.
func TestManifestsAcceptedByAPIServer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	for _, v := range []struct {
		repo, svc   string
		servers, gp int
		proto       client.Protocol
	}{{"s3://b/m", spec.ServiceHeadless, 2, 1, client.HTTP}, {"pvc:models/triton", spec.ServiceNodePort, 1, 0, client.HTTP},
		{"/models", spec.ServiceLoadBalancer, 3, 4, client.GRPC}} {
		cfg := e.config()
		cfg.ModelRepository, cfg.ServiceType = v.repo, v.svc
		cfg.CPU, cfg.Memory = "2", "8Gi"
		cfg.NodeSelector = map[string]string{k8s.LabelGPUProduct: product}
		cfg.Tolerations = []k8s.Toleration{{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}}
		cfg = cfg.WithDefaults("dry run")
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		o := k8s.Manifests(cfg, "dry-run", "mlp", v.servers, v.gp, v.proto)
		var buf strings.Builder
		if err := k8s.WriteYAML(&buf, append(o.List(), k8s.AgentJob(cfg, "dry-run", 3, "10.0.0.9:7000"))...); err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(buf.String()), 4096)
		var svc corev1.Service
		var dep appsv1.Deployment
		var job batchv1.Job
		if err := errors.Join(dec.Decode(&svc), dec.Decode(&dep), dec.Decode(&job)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.cp.Client.CoreV1().Services(e.ns).Create(ctx, &svc, dry); err != nil {
			t.Errorf("%+v: service refused: %v", v, err)
		}
		if _, err := e.cp.Client.AppsV1().Deployments(e.ns).Create(ctx, &dep, dry); err != nil {
			t.Errorf("%+v: deployment refused: %v", v, err)
		}
		if _, err := e.cp.Client.BatchV1().Jobs(e.ns).Create(ctx, &job, dry); err != nil {
			t.Errorf("%+v: agents job refused: %v", v, err)
		}
	}
}

// A sweep with agents on Kubernetes runs them as a Job of the right
// parallelism and arguments; an agent that never connects (kwok runs no
// containers: one agent here runs on this machine instead) leaves the
// point incomplete, never silently wrong; Close removes the Job.
func TestAgentsRunAsAJobAndAMissingAgentMakesThePointIncomplete(t *testing.T) {
	e := newEnv(t)
	s, err := scenarios.Parse([]byte(`
name: k8s-agents
server: {emulated_gpu_profile: h200-mlp}
workload: {model: mlp, mode: closed, rpc: unary}
dimensions: {gpus: [1], clients: [2], batch_size: 8}
measure: {warmup: 100ms, duration: 300ms}
agents: 2
`), "k8s-agents.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Target = scenarios.Target{Kind: scenarios.TargetKubernetes, Kubernetes: e.config()}
	ctx := context.Background()
	const sweepID = "k8s-agents-0a1b2c3d"
	kt, err := sweep.NewKubernetes(ctx, s, sweepID, nil)
	if err != nil {
		t.Fatal(err)
	}
	coord, err := agent.NewCoordinator("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	if err := kt.StartAgents(ctx, 2, coord.URL()); err != nil {
		t.Fatal(err)
	}
	job, err := e.cp.Client.BatchV1().Jobs(e.ns).Get(ctx, e.config().WithDefaults(s.Name).Name+"-agents", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := job.Spec.Template.Spec.Containers[0].Args
	if *job.Spec.Parallelism != 2 || !slices.Equal(args, []string{"agent", "--coordinator", coord.URL()}) || job.Labels[k8s.LabelSweep] != k8s.SweepLabel(sweepID) {
		t.Fatalf("agents job: parallelism %d, args %v, labels %v", *job.Spec.Parallelism, args, job.Labels)
	}
	actx, stop := context.WithCancel(ctx)
	defer stop()
	go agent.RunAgent(actx, coord.URL(), "local-stand-in", slog.New(slog.NewTextHandler(io.Discard, nil)))
	sum, err := sweep.Run(ctx, sweep.Options{Scenario: s, ResultsPath: filepath.Join(t.TempDir(), "r.jsonl"), Target: kt,
		Measure: sweep.MeasureWithAgents(coord, 2, nil), Attempts: 1, SweepID: sweepID})
	if err != nil {
		t.Fatal(err)
	}
	var rec *results.Record
	for i, r := range sum.Records {
		if r.Kind == "point" {
			rec = &sum.Records[i]
		}
	}
	if rec == nil || rec.Status != results.StatusIncomplete || rec.Measurement == nil || rec.Measurement.Requests == 0 || !strings.Contains(rec.Reason, "no result") {
		t.Fatalf("want an incomplete point holding the one agent's figures and naming the missing share, got %+v", rec)
	}
	if rec.SweepID != sweepID {
		t.Errorf("record sweep id %q, want %q", rec.SweepID, sweepID)
	}
	if err := kt.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cp.Client.BatchV1().Jobs(e.ns).Get(ctx, job.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("agents job still there after Close: %v", err)
	}
}
