package k8s

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/k8s/spec"
	"github.com/iaasbench/iaasbench/results"
)

// ErrNotOwned is returned when an object of the sweep's name exists but
// was not made by this sweep: iaasbench never touches it.
var ErrNotOwned = errors.New("object exists and is not this sweep's")

// annotationTemplate holds a hash of the pod template iaasbench asked
// for: the API server fills defaults into the stored template, so the
// two cannot be compared directly.
const annotationTemplate = "iaasbench.io/template-hash"

// pollInterval paces the waits; a point takes seconds to minutes to roll
// out, so watches would buy little.
const pollInterval = 250 * time.Millisecond

// closeTimeout bounds Close, which runs after the sweep's context may
// already be cancelled (Ctrl-C).
const closeTimeout = 2 * time.Minute

// Configurer applies a point's model configuration on one server, over
// the protocol of the sweep's load (the sweep passes sweep.Configure with
// its scenario).
type Configurer func(ctx context.Context, c client.Conn, p results.Point) error

// Options build a Target.
type Options struct {
	Config   Config // target.kubernetes; empty fields take their defaults
	Scenario string // scenario name: names the objects when Config.Name is empty
	SweepID  string // labels every object (iaasbench.io/sweep)
	Model    string // workload.model, loaded with --load-model
	// Protocol is what the load speaks to the pods, and what the target
	// waits for the model and configures it over: client.GRPC (also "")
	// or client.HTTP.
	Protocol client.Protocol
	// Conn are the connection settings (headers, HTTP tensor encoding) of
	// the target's own calls to the pods; the pods serve plaintext.
	Conn client.Settings
	// Configure applies each point's instance counts once the model is
	// ready; nil only waits for the model.
	Configure Configurer
	// Client talks to the cluster; nil builds one from Config.Kubeconfig
	// and Config.Context.
	Client kubernetes.Interface
	Logger *slog.Logger
}

// Allocation is what the cluster really gave a point, for its expense.
type Allocation struct {
	// GPUProduct is the nvidia.com/gpu.product label of the nodes the
	// servers run on; several products are joined by "+".
	GPUProduct string `json:"gpu_product,omitempty"`
	// InstanceType is the node.kubernetes.io/instance-type label, joined
	// like GPUProduct.
	InstanceType string   `json:"instance_type,omitempty"`
	GPUs         int      `json:"gpus"`  // GPUs the running servers requested
	Nodes        int      `json:"nodes"` // distinct nodes they run on
	NodeNames    []string `json:"node_names,omitempty"`
}

// Servers are a point's ready servers.
type Servers struct {
	Addrs       []string // each server's pod address in the load's protocol (see PodAddr)
	MetricsURLs []string // Prometheus endpoint of each server
	Pods        []string // pod name of each server, in Addrs order
	Server      string   // name and version from ServerMetadata
	Allocation  Allocation
}

// Target runs a sweep's Triton servers as a Deployment (see the package
// comment). It is not safe for concurrent Prepare calls; Close may be
// called at any time and more than once.
type Target struct {
	cfg       Config
	sweepID   string
	model     string
	proto     client.Protocol
	settings  client.Settings
	configure Configurer
	kube      kubernetes.Interface
	log       *slog.Logger

	mu      sync.Mutex
	clients map[string]client.Conn // by pod UID
	closed  bool
}

// New checks the configuration and the cluster, and refuses when objects
// of the sweep's name exist without its label.
func New(ctx context.Context, o Options) (*Target, error) {
	cfg := o.Config.WithDefaults(o.Scenario)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if SweepLabel(o.SweepID) == "" {
		return nil, fmt.Errorf("kubernetes target: sweep ID %q makes no label value", o.SweepID)
	}
	if o.Model == "" {
		return nil, errors.New("kubernetes target: no model (workload.model)")
	}
	proto := o.Protocol
	switch proto {
	case "":
		proto = client.GRPC
	case client.GRPC, client.HTTP:
	default:
		return nil, fmt.Errorf("kubernetes target: protocol %q: want %s or %s", o.Protocol, client.GRPC, client.HTTP)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	kube := o.Client
	if kube == nil {
		rc, err := RESTConfig(cfg)
		if err != nil {
			return nil, err
		}
		if kube, err = kubernetes.NewForConfig(rc); err != nil {
			return nil, fmt.Errorf("kubernetes client: %w", err)
		}
	}
	t := &Target{cfg: cfg, sweepID: o.SweepID, model: o.Model, proto: proto, settings: o.Conn, configure: o.Configure, kube: kube,
		log: log.With("target", "kubernetes", "namespace", cfg.Namespace, "name", cfg.Name), clients: map[string]client.Conn{}}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := t.preflight(cctx); err != nil {
		return nil, err
	}
	return t, nil
}

// RESTConfig loads the cluster connection the way kubectl does:
// cfg.Kubeconfig (else $KUBECONFIG, else ~/.kube/config, else the pod's
// service account) and cfg.Context.
func RESTConfig(cfg Config) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath = cfg.Kubeconfig
	}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: cfg.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes target: kubeconfig: %w", err)
	}
	rc.UserAgent = "iaasbench"
	rc.QPS, rc.Burst = 50, 100
	return rc, nil
}

// Config is the defaulted configuration in use.
func (t *Target) Config() Config { return t.cfg }

// Objects are what Prepare applies for a point.
func (t *Target) Objects(p results.Point) Objects {
	return Manifests(t.cfg, t.sweepID, t.model, max(p.Servers, 1), p.GPUs, t.proto)
}

// PodAddr is where the load reaches a pod over proto: pod-IP:grpc_port
// for gRPC (plaintext, the address syntax's default), and
// http://pod-IP:8000 (Triton's HTTP port) for KServe v2 REST. cfg must be
// defaulted.
func PodAddr(cfg Config, proto client.Protocol, podIP string) string {
	if proto == client.HTTP {
		return "http://" + net.JoinHostPort(podIP, strconv.Itoa(spec.DefaultHTTPPort))
	}
	return net.JoinHostPort(podIP, strconv.Itoa(cfg.GRPCPort))
}

func (t *Target) preflight(ctx context.Context) error {
	d, err := t.kube.AppsV1().Deployments(t.cfg.Namespace).Get(ctx, t.cfg.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("kubernetes target: reach the cluster: %w", err)
	default:
		if err := t.owned("deployment", d.ObjectMeta); err != nil {
			return err
		}
		t.log.Info("adopting the deployment of this sweep", "replicas", ptrOr(d.Spec.Replicas, 1))
	}
	s, err := t.kube.CoreV1().Services(t.cfg.Namespace).Get(ctx, t.cfg.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("kubernetes target: %w", err)
	default:
		return t.owned("service", s.ObjectMeta)
	}
	return nil
}

// owned refuses objects that do not carry this sweep's labels.
func (t *Target) owned(kind string, m metav1.ObjectMeta) error {
	want := SweepLabel(t.sweepID)
	if m.Labels[LabelManagedBy] == ManagedBy && m.Labels[LabelSweep] == want {
		return nil
	}
	who := "it is not managed by iaasbench"
	if m.Labels[LabelManagedBy] == ManagedBy {
		who = fmt.Sprintf("it belongs to sweep %q", m.Labels[LabelSweep])
	}
	return fmt.Errorf("%w: %s %s/%s exists and %s, not to this sweep (%s=%s); delete it or set target.kubernetes.name or namespace",
		ErrNotOwned, kind, m.Namespace, m.Name, who, LabelSweep, want)
}

// StartAgents creates the Job of k load agents (`iaasbench agent
// --coordinator URL`), replacing an earlier Job of this sweep; Close
// removes it with the rest.
func (t *Target) StartAgents(ctx context.Context, k int, coordinatorURL string) error {
	want := AgentJob(t.cfg, t.sweepID, k, coordinatorURL)
	jobs := t.kube.BatchV1().Jobs(t.cfg.Namespace)
	cur, err := jobs.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case err == nil:
		if err := t.owned("job", cur.ObjectMeta); err != nil {
			return err
		}
		bg := metav1.DeletePropagationBackground
		if err := jobs.Delete(ctx, want.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("replace agents job %s: %w", want.Name, err)
		}
		for {
			if _, err := jobs.Get(ctx, want.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("replace agents job %s: %w", want.Name, ctx.Err())
			case <-time.After(pollInterval):
			}
		}
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("kubernetes target: %w", err)
	}
	if _, err := jobs.Create(ctx, want, metav1.CreateOptions{FieldManager: ManagedBy}); err != nil {
		return fmt.Errorf("create agents job %s/%s: %w", want.Namespace, want.Name, err)
	}
	t.log.Info("created agents job", "agents", k, "coordinator", coordinatorURL)
	return nil
}

// Prepare brings the Deployment to the point's servers and GPUs —
// scaling when only the replica count changes — waits for the rollout
// and for the model on every pod, then applies the point's model
// configuration. A pod that cannot run fails the point with the reason
// Kubernetes gives (scheduler message, image pull, crash loop).
func (t *Target) Prepare(ctx context.Context, p results.Point) (*Servers, error) {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return nil, errors.New("kubernetes target is closed")
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ReadyTimeoutOrDefault())
	defer cancel()
	objs := t.Objects(p)
	if err := t.applyService(ctx, objs.Service); err != nil {
		return nil, err
	}
	if err := t.applyDeployment(ctx, objs.Deployment); err != nil {
		return nil, err
	}
	pods, err := t.waitRollout(ctx, *objs.Deployment.Spec.Replicas)
	if err != nil {
		return nil, err
	}
	alloc, err := t.allocation(ctx, pods)
	if err != nil {
		return nil, err
	}
	out := &Servers{Allocation: alloc}
	live := map[string]bool{}
	for _, pod := range pods {
		uid := string(pod.UID)
		live[uid] = true
		addr := PodAddr(t.cfg, t.proto, pod.Status.PodIP)
		c, err := t.client(uid, addr)
		if err != nil {
			return nil, err
		}
		if err := t.waitModel(ctx, c, pod.Name); err != nil {
			return nil, err
		}
		if t.configure != nil {
			if err := t.configure(ctx, c, p); err != nil {
				return nil, fmt.Errorf("pod %s: %w", pod.Name, err)
			}
		}
		if out.Server == "" {
			if md, err := c.ServerMetadata(ctx); err == nil {
				out.Server = strings.TrimSpace(md.GetName() + " " + md.GetVersion())
			}
		}
		out.Addrs = append(out.Addrs, addr)
		out.MetricsURLs = append(out.MetricsURLs, "http://"+net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(t.cfg.MetricsPort))+"/metrics")
		out.Pods = append(out.Pods, pod.Name)
	}
	t.dropClients(live)
	t.log.Info("servers ready", "point", p.Key(), "servers", len(out.Addrs), "gpus", alloc.GPUs,
		"nodes", alloc.Nodes, "gpu_product", alloc.GPUProduct)
	return out, nil
}

func (t *Target) client(uid, addr string) (client.Conn, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.clients[uid]; c != nil {
		return c, nil
	}
	c, err := client.Connect(addr, t.settings)
	if err != nil {
		return nil, fmt.Errorf("kubernetes target: %w", err)
	}
	t.clients[uid] = c
	return c, nil
}

func (t *Target) dropClients(live map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for uid, c := range t.clients {
		if !live[uid] {
			c.Close()
			delete(t.clients, uid)
		}
	}
}

// waitModel polls ModelReady: a pod is Ready for Kubernetes when its
// readiness probe passes, which may precede the load's port answering.
func (t *Target) waitModel(ctx context.Context, c client.Conn, pod string) error {
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ready, err := c.ModelReady(cctx, t.model, "")
		cancel()
		if err == nil && ready {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("model %s is not ready", t.model)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s (%s): model %s not ready: %w (%v)", pod, c.Addr(), t.model, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

func (t *Target) applyService(ctx context.Context, want *corev1.Service) error {
	svcs := t.kube.CoreV1().Services(t.cfg.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := svcs.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if _, err := svcs.Create(ctx, want, metav1.CreateOptions{FieldManager: ManagedBy}); err != nil {
				return fmt.Errorf("create service %s/%s: %w", want.Namespace, want.Name, err)
			}
			t.log.Info("created service", "type", t.cfg.ServiceType)
			return nil
		}
		if err != nil {
			return fmt.Errorf("get service %s/%s: %w", want.Namespace, want.Name, err)
		}
		if err := t.owned("service", cur.ObjectMeta); err != nil {
			return err
		}
		if (cur.Spec.ClusterIP == corev1.ClusterIPNone) != (want.Spec.ClusterIP == corev1.ClusterIPNone) {
			// A Service's cluster IP is immutable: going to or from
			// headless needs a new one.
			if err := svcs.Delete(ctx, cur.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err != nil {
				return fmt.Errorf("replace service %s/%s: %w", cur.Namespace, cur.Name, err)
			}
			_, err := svcs.Create(ctx, want, metav1.CreateOptions{FieldManager: ManagedBy})
			if err != nil {
				return fmt.Errorf("replace service %s/%s: %w", cur.Namespace, cur.Name, err)
			}
			return nil
		}
		next := cur.DeepCopy()
		next.Labels, next.Annotations = merge(cur.Labels, want.Labels), merge(cur.Annotations, want.Annotations)
		next.Spec.Selector, next.Spec.Type = want.Spec.Selector, want.Spec.Type
		ports := slices.Clone(want.Spec.Ports)
		for i := range ports {
			// Keep the node ports the cluster assigned.
			for _, old := range cur.Spec.Ports {
				if old.Name == ports[i].Name && want.Spec.Type != corev1.ServiceTypeClusterIP {
					ports[i].NodePort = old.NodePort
				}
			}
		}
		next.Spec.Ports = ports
		if jsonEqual(next, cur) {
			return nil
		}
		if _, err := svcs.Update(ctx, next, metav1.UpdateOptions{FieldManager: ManagedBy}); err != nil {
			return fmt.Errorf("update service %s/%s: %w", cur.Namespace, cur.Name, err)
		}
		return nil
	})
}

func (t *Target) applyDeployment(ctx context.Context, want *appsv1.Deployment) error {
	deps := t.kube.AppsV1().Deployments(t.cfg.Namespace)
	hash := templateHash(want.Spec.Template)
	want = want.DeepCopy()
	want.Annotations[annotationTemplate] = hash
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := deps.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if _, err := deps.Create(ctx, want, metav1.CreateOptions{FieldManager: ManagedBy}); err != nil {
				return fmt.Errorf("create deployment %s/%s: %w", want.Namespace, want.Name, err)
			}
			t.log.Info("created deployment", "replicas", *want.Spec.Replicas, "gpus", gpusOf(want.Spec.Template.Spec, t.cfg.GPUResource))
			return nil
		}
		if err != nil {
			return fmt.Errorf("get deployment %s/%s: %w", want.Namespace, want.Name, err)
		}
		if err := t.owned("deployment", cur.ObjectMeta); err != nil {
			return err
		}
		if cur.Annotations[annotationTemplate] == hash {
			if ptrOr(cur.Spec.Replicas, 1) == *want.Spec.Replicas {
				return nil
			}
			// Same servers, another count: scale, keeping running pods.
			sc, err := deps.GetScale(ctx, cur.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("scale deployment %s/%s: %w", cur.Namespace, cur.Name, err)
			}
			t.log.Info("scaling deployment", "from", sc.Spec.Replicas, "to", *want.Spec.Replicas)
			sc.Spec.Replicas = *want.Spec.Replicas
			if _, err := deps.UpdateScale(ctx, cur.Name, sc, metav1.UpdateOptions{FieldManager: ManagedBy}); err != nil {
				return fmt.Errorf("scale deployment %s/%s: %w", cur.Namespace, cur.Name, err)
			}
			return nil
		}
		next := cur.DeepCopy()
		next.Labels, next.Annotations = merge(cur.Labels, want.Labels), merge(cur.Annotations, want.Annotations)
		next.Spec.Replicas, next.Spec.Template, next.Spec.Strategy = want.Spec.Replicas, want.Spec.Template, want.Spec.Strategy
		t.log.Info("updating deployment", "replicas", *want.Spec.Replicas, "gpus", gpusOf(want.Spec.Template.Spec, t.cfg.GPUResource))
		if _, err := deps.Update(ctx, next, metav1.UpdateOptions{FieldManager: ManagedBy}); err != nil {
			return fmt.Errorf("update deployment %s/%s: %w", cur.Namespace, cur.Name, err)
		}
		return nil
	})
}

// PodFailure is a server pod that cannot run: the point fails with it.
type PodFailure struct {
	Pod     string
	Reason  string // Unschedulable, ImagePullBackOff, CrashLoopBackOff, ...
	Message string // as Kubernetes gives it
}

func (f *PodFailure) Error() string {
	return fmt.Sprintf("pod %s: %s: %s", f.Pod, f.Reason, f.Message)
}

// fatalWaiting are container waiting reasons that do not clear by
// themselves.
var fatalWaiting = []string{"ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CrashLoopBackOff",
	"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}

// waitRollout waits until the Deployment runs want ready pods of its
// current revision, and returns them sorted by name; it fails early when
// a pod of that revision cannot run.
func (t *Target) waitRollout(ctx context.Context, want int32) ([]corev1.Pod, error) {
	unschedulableSince := map[string]time.Time{}
	sel := labels.SelectorFromSet(selector(t.cfg)).String()
	var state string
	for {
		pods, done, st, err := t.rolloutState(ctx, want, sel, unschedulableSince)
		if err != nil || done {
			return pods, err
		}
		state = st
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("deployment %s/%s not ready within target.kubernetes.ready_timeout %v: %s",
					t.cfg.Namespace, t.cfg.Name, t.cfg.ReadyTimeoutOrDefault(), state)
			}
			return nil, fmt.Errorf("waiting for deployment %s/%s: %w (%s)", t.cfg.Namespace, t.cfg.Name, ctx.Err(), state)
		case <-time.After(pollInterval):
		}
	}
}

func (t *Target) rolloutState(ctx context.Context, want int32, sel string, unschedulableSince map[string]time.Time) ([]corev1.Pod, bool, string, error) {
	d, err := t.kube.AppsV1().Deployments(t.cfg.Namespace).Get(ctx, t.cfg.Name, metav1.GetOptions{})
	if err != nil {
		return nil, false, "", fmt.Errorf("get deployment %s/%s: %w", t.cfg.Namespace, t.cfg.Name, err)
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return nil, false, "", fmt.Errorf("deployment %s/%s: %s: %s", t.cfg.Namespace, t.cfg.Name, c.Reason, c.Message)
		}
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return nil, false, "", fmt.Errorf("deployment %s/%s: %s", t.cfg.Namespace, t.cfg.Name, c.Message)
		}
	}
	if d.Status.ObservedGeneration < d.Generation {
		return nil, false, "the controller has not seen the new spec yet", nil
	}
	hash, err := t.currentHash(ctx, d, sel)
	if err != nil || hash == "" {
		return nil, false, "no replica set for the current revision yet", err
	}
	list, err := t.kube.CoreV1().Pods(t.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, false, "", fmt.Errorf("list pods of %s/%s: %w", t.cfg.Namespace, t.cfg.Name, err)
	}
	var ready []corev1.Pod
	var states []string
	old := 0
	for _, pod := range list.Items {
		if pod.DeletionTimestamp != nil || pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
			// Failed pods of earlier points (evicted, admission errors)
			// stay until their ReplicaSet goes; they hold nothing.
			if pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodSucceeded {
				old++
			}
			continue
		}
		if f := podFailure(&pod, unschedulableSince, t.cfg.ScheduleTimeoutOrDefault()); f != nil {
			return nil, false, "", f
		}
		if podReady(&pod) && pod.Status.PodIP != "" {
			ready = append(ready, pod)
			continue
		}
		states = append(states, pod.Name+": "+podState(&pod))
	}
	slices.SortFunc(ready, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	if int32(len(ready)) == want && old == 0 && d.Status.UpdatedReplicas == want && d.Status.Replicas == want {
		return ready, true, "", nil
	}
	state := fmt.Sprintf("%d/%d servers ready", len(ready), want)
	if old > 0 {
		state += fmt.Sprintf(", %d old pods terminating", old)
	}
	if len(states) > 0 {
		slices.Sort(states)
		state += "; " + strings.Join(states, "; ")
	}
	return nil, false, state, nil
}

// currentHash is the pod-template-hash of the Deployment's newest
// ReplicaSet, which labels the pods of the current revision.
func (t *Target) currentHash(ctx context.Context, d *appsv1.Deployment, sel string) (string, error) {
	rev := d.Annotations["deployment.kubernetes.io/revision"]
	rss, err := t.kube.AppsV1().ReplicaSets(t.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", fmt.Errorf("list replica sets of %s/%s: %w", t.cfg.Namespace, t.cfg.Name, err)
	}
	for _, rs := range rss.Items {
		if rev != "" && rs.Annotations["deployment.kubernetes.io/revision"] == rev && metav1.IsControlledBy(&rs, d) {
			return rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey], nil
		}
	}
	return "", nil
}

// podFailure says why a pod will not become ready by itself, if so.
func podFailure(pod *corev1.Pod, unschedulableSince map[string]time.Time, scheduleTimeout time.Duration) *PodFailure {
	if pod.Status.Phase == corev1.PodFailed {
		return &PodFailure{Pod: pod.Name, Reason: or(pod.Status.Reason, "Failed"), Message: pod.Status.Message}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable {
			continue
		}
		since, ok := unschedulableSince[string(pod.UID)]
		if !ok {
			since = time.Now()
			unschedulableSince[string(pod.UID)] = since
		}
		if time.Since(since) >= scheduleTimeout {
			return &PodFailure{Pod: pod.Name, Reason: c.Reason, Message: c.Message}
		}
	}
	for _, cs := range append(slices.Clone(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && slices.Contains(fatalWaiting, w.Reason) {
			msg := w.Message
			if t := cs.LastTerminationState.Terminated; t != nil {
				msg = strings.TrimSpace(fmt.Sprintf("%s (last exit code %d, %s%s)", msg, t.ExitCode, t.Reason, colon(t.Message)))
			}
			return &PodFailure{Pod: pod.Name, Reason: w.Reason, Message: fmt.Sprintf("container %s: %s", cs.Name, msg)}
		}
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState is a short account of a pod that is not ready yet.
func podState(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return fmt.Sprintf("%s (%s)", c.Reason, c.Message)
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			return fmt.Sprintf("%s %s%s", pod.Status.Phase, w.Reason, colon(w.Message))
		}
	}
	if pod.Status.PodIP == "" {
		return string(pod.Status.Phase) + ", no pod IP yet"
	}
	return string(pod.Status.Phase) + ", not ready"
}

// allocation reads the GPUs and nodes the ready pods hold.
func (t *Target) allocation(ctx context.Context, pods []corev1.Pod) (Allocation, error) {
	var a Allocation
	var products, types []string
	for _, pod := range pods {
		a.GPUs += gpusOf(pod.Spec, t.cfg.GPUResource)
		if pod.Spec.NodeName == "" || slices.Contains(a.NodeNames, pod.Spec.NodeName) {
			continue
		}
		a.NodeNames = append(a.NodeNames, pod.Spec.NodeName)
		n, err := t.kube.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsForbidden(err) {
				// Reading nodes needs a cluster role; without it the
				// expense falls back to the scenario's gpu_type.
				t.log.Warn("cannot read nodes: GPU product unknown", "err", err)
				continue
			}
			return a, fmt.Errorf("node %s of pod %s: %w", pod.Spec.NodeName, pod.Name, err)
		}
		if v := n.Labels[LabelGPUProduct]; v != "" && !slices.Contains(products, v) {
			products = append(products, v)
		}
		if v := n.Labels[LabelInstanceType]; v != "" && !slices.Contains(types, v) {
			types = append(types, v)
		}
	}
	slices.Sort(a.NodeNames)
	slices.Sort(products)
	slices.Sort(types)
	a.Nodes = len(a.NodeNames)
	a.GPUProduct, a.InstanceType = strings.Join(products, "+"), strings.Join(types, "+")
	return a, nil
}

func gpusOf(spec corev1.PodSpec, res string) int {
	n := 0
	for _, c := range spec.Containers {
		if q, ok := c.Resources.Limits[corev1.ResourceName(res)]; ok {
			n += int(q.Value())
		} else if q, ok := c.Resources.Requests[corev1.ResourceName(res)]; ok {
			n += int(q.Value())
		}
	}
	return n
}

// Close removes the sweep's Deployment, Service and agents Job — only
// those carrying its label — unless Config.Keep, and waits until their
// pods are gone so that the GPUs are free when it returns.
func (t *Target) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for uid, c := range t.clients {
		c.Close()
		delete(t.clients, uid)
	}
	t.mu.Unlock()
	if t.cfg.Keep {
		t.log.Info("keeping the sweep's objects (target.kubernetes.keep)", "selector", LabelSweep+"="+SweepLabel(t.sweepID))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return t.remove(ctx)
}

func (t *Target) remove(ctx context.Context) error {
	ns := t.cfg.Namespace
	fg := metav1.DeletePropagationForeground
	var gone []func() error // checks that a deleted object has disappeared
	del := func(kind, name string, get func() (metav1.ObjectMeta, error), remove func(metav1.DeleteOptions) error) error {
		m, err := get()
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("remove %s %s/%s: %w", kind, ns, name, err)
		}
		if t.owned(kind, m) != nil {
			return nil // someone else's: never ours to delete
		}
		uid := m.UID
		err = remove(metav1.DeleteOptions{PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("remove %s %s/%s: %w", kind, ns, name, err)
		}
		t.log.Info("removing", "kind", kind, "name", name)
		gone = append(gone, func() error {
			m, err := get()
			switch {
			case apierrors.IsNotFound(err) || (err == nil && m.UID != uid):
				return nil
			case err != nil:
				return err
			}
			return fmt.Errorf("%s %s/%s", kind, ns, name)
		})
		return nil
	}
	deps, svcs, jobs := t.kube.AppsV1().Deployments(ns), t.kube.CoreV1().Services(ns), t.kube.BatchV1().Jobs(ns)
	agents := t.cfg.Name + "-agents"
	errs := []error{
		del("deployment", t.cfg.Name, func() (metav1.ObjectMeta, error) {
			return metaOf(deps.Get(ctx, t.cfg.Name, metav1.GetOptions{}))
		}, func(o metav1.DeleteOptions) error { return deps.Delete(ctx, t.cfg.Name, o) }),
		del("service", t.cfg.Name, func() (metav1.ObjectMeta, error) {
			return metaOf(svcs.Get(ctx, t.cfg.Name, metav1.GetOptions{}))
		}, func(o metav1.DeleteOptions) error { return svcs.Delete(ctx, t.cfg.Name, o) }),
		del("job", agents, func() (metav1.ObjectMeta, error) {
			return metaOf(jobs.Get(ctx, agents, metav1.GetOptions{}))
		}, func(o metav1.DeleteOptions) error { return jobs.Delete(ctx, agents, o) }),
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return t.waitGone(ctx, gone)
}

// waitGone waits until the deleted objects and every pod of the sweep
// have disappeared: foreground deletion removes an object only after
// its pods, so the GPUs are free when this returns.
func (t *Target) waitGone(ctx context.Context, gone []func() error) error {
	sel := labels.SelectorFromSet(map[string]string{LabelManagedBy: ManagedBy, LabelInstance: t.cfg.Name,
		LabelSweep: SweepLabel(t.sweepID)}).String()
	for {
		var left []string
		pods, err := t.kube.CoreV1().Pods(t.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return fmt.Errorf("wait for the sweep's pods to go: %w", err)
		}
		for _, p := range pods.Items {
			left = append(left, "pod "+p.Name)
		}
		for _, g := range gone {
			if err := g(); err != nil {
				left = append(left, err.Error())
			}
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still being removed after %v: %s", closeTimeout, strings.Join(left, ", "))
		case <-time.After(pollInterval):
		}
	}
}

// metaOf lets the deletions share one ownership check.
func metaOf(o metav1.Object, err error) (metav1.ObjectMeta, error) {
	if err != nil {
		return metav1.ObjectMeta{}, err
	}
	return metav1.ObjectMeta{Name: o.GetName(), Namespace: o.GetNamespace(), UID: o.GetUID(), Labels: o.GetLabels()}, nil
}

func templateHash(tpl corev1.PodTemplateSpec) string {
	js, _ := json.Marshal(tpl) // a typed API struct always encodes
	h := sha256.Sum256(js)
	return hex.EncodeToString(h[:8])
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func merge(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func colon(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
