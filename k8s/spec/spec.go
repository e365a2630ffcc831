// Package spec is the Kubernetes target as a scenario writes it
// (`target.kubernetes`): its configuration, defaults and validation. It is
// free of client-go so that parsing a scenario does not pull in a
// Kubernetes client; package k8s turns a Config into objects.
package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Service types of Config.ServiceType.
const (
	ServiceHeadless     = "headless"
	ServiceNodePort     = "NodePort"
	ServiceLoadBalancer = "LoadBalancer"
)

// Defaults of Config.
const (
	DefaultNamespace    = "default"
	DefaultImage        = "nvcr.io/nvidia/tritonserver:25.08-py3"
	DefaultGPUResource  = "nvidia.com/gpu"
	DefaultGRPCPort     = 8001
	DefaultHTTPPort     = 8000
	DefaultMetricsPort  = 8002
	DefaultReadyTimeout = 10 * time.Minute
	// DefaultScheduleTimeout is how long a pod may stay unschedulable
	// before the point fails: long enough for a cluster autoscaler to add
	// a node, short enough not to waste a sweep on a point that never fits.
	DefaultScheduleTimeout = 2 * time.Minute
	// DefaultAgentImage runs `iaasbench agent` (built from the Dockerfile).
	DefaultAgentImage = "iaasbench:latest"
	// ModelsMount is where a pvc: model repository is mounted in the
	// server's pod.
	ModelsMount = "/models"
)

// Config is the `target.kubernetes` section of a scenario: where and how
// the Triton servers of a sweep run.
type Config struct {
	// Kubeconfig is the kubeconfig file; empty uses $KUBECONFIG, then
	// ~/.kube/config, then the in-cluster service account.
	Kubeconfig string `yaml:"kubeconfig,omitempty" json:"kubeconfig,omitempty"`
	// Context is the kubeconfig context; empty uses the current one.
	Context string `yaml:"context,omitempty" json:"context,omitempty"`
	// Namespace holds every object of the sweep (default "default").
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	// Name of the Deployment and Service; empty derives it from the
	// scenario name ("iaasbench-<scenario>").
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Image is the Triton server image.
	Image string `yaml:"image,omitempty" json:"image,omitempty"`
	// ModelRepository is passed to --model-repository: an s3://, gs:// or
	// as:// URL, a path inside the image, or "pvc:CLAIM[/sub/dir]" to
	// mount a PersistentVolumeClaim at /models.
	ModelRepository string `yaml:"model_repository" json:"model_repository"`
	// SecretEnv names a Secret whose keys become the server's environment
	// (cloud storage credentials for the model repository).
	SecretEnv string `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
	// GPUResource is the extended resource a GPU is requested as.
	GPUResource string `yaml:"gpu_resource,omitempty" json:"gpu_resource,omitempty"`
	// CPU and Memory are optional resource requests of each server
	// (Kubernetes quantities, e.g. "4" and "16Gi").
	CPU    string `yaml:"cpu,omitempty" json:"cpu,omitempty"`
	Memory string `yaml:"memory,omitempty" json:"memory,omitempty"`
	// NodeSelector and Tolerations place the servers on GPU nodes.
	NodeSelector map[string]string `yaml:"node_selector,omitempty" json:"node_selector,omitempty"`
	Tolerations  []Toleration      `yaml:"tolerations,omitempty" json:"tolerations,omitempty"`
	// ServiceType is headless (default: one address per replica, so a
	// stream's sequence stays on one server), NodePort or LoadBalancer.
	ServiceType string `yaml:"service_type,omitempty" json:"service_type,omitempty"`
	GRPCPort    int    `yaml:"grpc_port,omitempty" json:"grpc_port,omitempty"`
	MetricsPort int    `yaml:"metrics_port,omitempty" json:"metrics_port,omitempty"`
	// ReadyTimeout bounds the wait for the rollout and the model on every
	// server of a point (Go duration, default 10m).
	ReadyTimeout string `yaml:"ready_timeout,omitempty" json:"ready_timeout,omitempty"`
	// ScheduleTimeout is how long a pod may stay unschedulable before the
	// point fails with the scheduler's message (default 2m).
	ScheduleTimeout string `yaml:"schedule_timeout,omitempty" json:"schedule_timeout,omitempty"`
	// AgentImage is the iaasbench image that runs load agents in the
	// cluster (default DefaultAgentImage, built from the Dockerfile).
	AgentImage string `yaml:"agent_image,omitempty" json:"agent_image,omitempty"`
	// CoordinatorListen is where the sweep's coordinator listens for
	// in-cluster agents (e.g. "0.0.0.0:7070": a deliberate choice to leave
	// loopback), and CoordinatorURL is the address the agents' pods dial
	// (e.g. "http://10.0.0.5:7070"). Both are needed when the scenario
	// sets agents.
	CoordinatorListen string `yaml:"coordinator_listen,omitempty" json:"coordinator_listen,omitempty"`
	CoordinatorURL    string `yaml:"coordinator_url,omitempty" json:"coordinator_url,omitempty"`
	// Keep leaves the objects in place when the sweep ends.
	Keep bool `yaml:"keep,omitempty" json:"keep,omitempty"`
}

// Toleration is a pod toleration (core/v1 Toleration in scenario spelling).
type Toleration struct {
	Key      string `yaml:"key,omitempty" json:"key,omitempty"`
	Operator string `yaml:"operator,omitempty" json:"operator,omitempty"` // Exists or Equal
	Value    string `yaml:"value,omitempty" json:"value,omitempty"`
	Effect   string `yaml:"effect,omitempty" json:"effect,omitempty"` // NoSchedule, PreferNoSchedule, NoExecute
	// TolerationSeconds bounds a NoExecute toleration; 0 tolerates for
	// ever (a plain value: the scenario decoder takes no pointers).
	TolerationSeconds int64 `yaml:"toleration_seconds,omitempty" json:"toleration_seconds,omitempty"`
}

// WithDefaults returns c with every empty field set to its default;
// scenario names the objects when c.Name is empty.
func (c Config) WithDefaults(scenario string) Config {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Name == "" {
		c.Name = ObjectName(scenario)
	}
	if c.Image == "" {
		c.Image = DefaultImage
	}
	if c.GPUResource == "" {
		c.GPUResource = DefaultGPUResource
	}
	if c.ServiceType == "" {
		c.ServiceType = ServiceHeadless
	}
	if c.AgentImage == "" {
		c.AgentImage = DefaultAgentImage
	}
	if c.GRPCPort == 0 {
		c.GRPCPort = DefaultGRPCPort
	}
	if c.MetricsPort == 0 {
		c.MetricsPort = DefaultMetricsPort
	}
	return c
}

// Validate reports every problem of a defaulted Config, each naming its
// field as written in a scenario (target.kubernetes.FIELD).
func (c Config) Validate() error {
	var probs []string
	add := func(field, format string, args ...any) {
		probs = append(probs, "target.kubernetes."+field+": "+fmt.Sprintf(format, args...))
	}
	if c.ModelRepository == "" {
		add("model_repository", "required (s3://…, gs://…, a path in the image, or pvc:CLAIM[/dir])")
	} else if claim, _, ok := PVCRepository(c.ModelRepository); ok {
		for _, m := range isDNS1123Subdomain(claim) {
			add("model_repository", "claim %q: %s", claim, m)
		}
	}
	for _, m := range isDNS1123Label(c.Namespace) {
		add("namespace", "%q: %s", c.Namespace, m)
	}
	// Service names are DNS-1035 labels, stricter than Deployment names.
	for _, m := range isDNS1035Label(c.Name) {
		add("name", "%q: %s", c.Name, m)
	}
	if len(c.Name) > MaxNameLen {
		add("name", "%q is longer than %d characters (pod names append hashes)", c.Name, MaxNameLen)
	}
	for _, m := range isQualifiedName(c.GPUResource) {
		add("gpu_resource", "%q: %s", c.GPUResource, m)
	}
	for field, q := range map[string]string{"cpu": c.CPU, "memory": c.Memory} {
		if q == "" {
			continue
		}
		if !isQuantity(q) {
			add(field, "%q is not a Kubernetes quantity (e.g. 4, 500m, 16Gi)", q)
		}
	}
	for k, v := range c.NodeSelector {
		for _, m := range isQualifiedName(k) {
			add("node_selector", "key %q: %s", k, m)
		}
		for _, m := range isValidLabelValue(v) {
			add("node_selector", "value %q of %s: %s", v, k, m)
		}
	}
	for i, t := range c.Tolerations {
		switch t.Operator {
		case "", "Equal", "Exists":
		default:
			add(fmt.Sprintf("tolerations[%d].operator", i), "%q: want Equal or Exists", t.Operator)
		}
		if t.TolerationSeconds < 0 {
			add(fmt.Sprintf("tolerations[%d].toleration_seconds", i), "%d: want seconds ≥ 0", t.TolerationSeconds)
		}
		switch t.Effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			add(fmt.Sprintf("tolerations[%d].effect", i), "%q: want NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
		}
	}
	switch c.ServiceType {
	case ServiceHeadless, ServiceNodePort, ServiceLoadBalancer:
	default:
		add("service_type", "%q: want %s, %s or %s", c.ServiceType, ServiceHeadless, ServiceNodePort, ServiceLoadBalancer)
	}
	for field, p := range map[string]int{"grpc_port": c.GRPCPort, "metrics_port": c.MetricsPort} {
		if p < 1 || p > 65535 {
			add(field, "%d is not a port (1–65535)", p)
		}
	}
	if c.GRPCPort == c.MetricsPort || c.GRPCPort == DefaultHTTPPort || c.MetricsPort == DefaultHTTPPort {
		add("grpc_port", "grpc_port %d, metrics_port %d and Triton's HTTP port %d must differ", c.GRPCPort, c.MetricsPort, DefaultHTTPPort)
	}
	for field, d := range map[string]string{"ready_timeout": c.ReadyTimeout, "schedule_timeout": c.ScheduleTimeout} {
		if d == "" {
			continue
		}
		if v, err := time.ParseDuration(d); err != nil || v <= 0 {
			add(field, "%q is not a positive duration (e.g. 90s, 10m)", d)
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(sortedUnique(probs), "; "))
}

// ReadyTimeoutOrDefault is ReadyTimeout parsed, or its default.
func (c Config) ReadyTimeoutOrDefault() time.Duration {
	return parseOr(c.ReadyTimeout, DefaultReadyTimeout)
}

// ScheduleTimeoutOrDefault is ScheduleTimeout parsed, or its default.
func (c Config) ScheduleTimeoutOrDefault() time.Duration {
	return parseOr(c.ScheduleTimeout, DefaultScheduleTimeout)
}

func parseOr(s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d
	}
	return def
}

// PVCRepository splits "pvc:CLAIM/sub/dir" into the claim and the
// repository path inside the mounted volume.
func PVCRepository(repo string) (claim, path string, ok bool) {
	rest, ok := strings.CutPrefix(repo, "pvc:")
	if !ok {
		return "", "", false
	}
	claim, sub, _ := strings.Cut(rest, "/")
	return claim, strings.TrimSuffix(ModelsMount+"/"+sub, "/"), true
}

// MaxNameLen leaves room for the ReplicaSet and pod suffixes Kubernetes
// appends to a Deployment's name.
const MaxNameLen = 47

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// ObjectName is the default name of a scenario's Deployment and Service.
func ObjectName(scenario string) string {
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(scenario), "-"), "-")
	n = "iaasbench-" + n
	if len(n) > MaxNameLen {
		n = n[:MaxNameLen]
	}
	return strings.TrimRight(n, "-")
}

func sortedUnique(s []string) []string {
	out := make([]string, 0, len(s))
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	// Problems come partly from map iteration; a stable order keeps error
	// messages comparable between runs.
	slices.Sort(out)
	return out
}
