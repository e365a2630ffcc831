package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/k8s/spec"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Labels and annotations iaasbench puts on what it creates.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "iaasbench"
	LabelSweep     = "iaasbench.io/sweep"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	// AnnotationSweepID holds the sweep ID unshortened.
	AnnotationSweepID = "iaasbench.io/sweep-id"
	// LabelGPUProduct is the node label NVIDIA's GPU feature discovery
	// sets to the GPU model (e.g. NVIDIA-H100-80GB-HBM3).
	LabelGPUProduct = "nvidia.com/gpu.product"
	// LabelInstanceType is the well-known node label of the cloud machine
	// type, which prices a node-hour.
	LabelInstanceType = "node.kubernetes.io/instance-type"

	componentServer = "server"
	componentAgent  = "agent"
	containerName   = "tritonserver"
)

// Objects are what Target applies for one (servers, gpus) pair.
type Objects struct {
	Service    *corev1.Service
	Deployment *appsv1.Deployment
}

// List returns the objects in the order they are applied.
func (o Objects) List() []runtime.Object {
	return []runtime.Object{o.Service, o.Deployment}
}

// selector selects a sweep's servers. It leaves out the sweep label: a
// Deployment's selector is immutable, and the name already scopes it.
func selector(cfg Config) map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedBy,
		LabelInstance:  cfg.Name,
		LabelComponent: componentServer,
	}
}

func objectMeta(cfg Config, name, sweepID, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: cfg.Namespace,
		Labels: map[string]string{
			LabelManagedBy: ManagedBy,
			LabelSweep:     SweepLabel(sweepID),
			LabelInstance:  cfg.Name,
			LabelName:      "iaasbench",
			LabelComponent: component,
		},
		Annotations: map[string]string{AnnotationSweepID: sweepID},
	}
}

// Manifests builds the Service and Deployment that serve model with
// servers Triton replicas of gpus GPUs each, for load over proto ("" is
// gRPC). cfg must be defaulted (WithDefaults).
func Manifests(cfg Config, sweepID, model string, servers, gpus int, proto client.Protocol) Objects {
	return Objects{Service: service(cfg, sweepID, proto), Deployment: deployment(cfg, sweepID, model, servers, gpus)}
}

func service(cfg Config, sweepID string, proto client.Protocol) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(cfg, cfg.Name, sweepID, componentServer),
		Spec: corev1.ServiceSpec{
			Selector: selector(cfg),
			Ports: []corev1.ServicePort{
				{Name: "grpc", Port: int32(cfg.GRPCPort), TargetPort: intstr.FromString("grpc"), Protocol: corev1.ProtocolTCP},
				{Name: "metrics", Port: int32(cfg.MetricsPort), TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
	if proto == client.HTTP {
		// Only when the load uses it, so that a gRPC sweep's Service stays
		// as it always was (the pods serve HTTP either way, for probes).
		http := corev1.ServicePort{Name: "http", Port: spec.DefaultHTTPPort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}
		svc.Spec.Ports = slices.Insert(svc.Spec.Ports, 1, http)
	}
	switch cfg.ServiceType {
	case spec.ServiceNodePort:
		svc.Spec.Type = corev1.ServiceTypeNodePort
	case spec.ServiceLoadBalancer:
		svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	default:
		// Headless: DNS answers every ready pod's IP, so agents in the
		// cluster can reach each replica on its own.
		svc.Spec.Type = corev1.ServiceTypeClusterIP
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	return svc
}

func deployment(cfg Config, sweepID, model string, servers, gpus int) *appsv1.Deployment {
	replicas := int32(max(servers, 1))
	sel := selector(cfg)
	meta := objectMeta(cfg, cfg.Name, sweepID, componentServer)
	podLabels := map[string]string{LabelSweep: meta.Labels[LabelSweep], LabelName: "iaasbench"}
	for k, v := range sel {
		podLabels[k] = v
	}
	repo := cfg.ModelRepository
	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	if claim, path, ok := spec.PVCRepository(repo); ok {
		repo = path
		volumes = append(volumes, corev1.Volume{Name: "models", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: true}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "models", MountPath: spec.ModelsMount, ReadOnly: true})
	}
	// Triton's shared-memory transfers and Python backend need more than
	// the container runtime's 64 MiB /dev/shm.
	volumes = append(volumes, corev1.Volume{Name: "dshm", VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}})
	mounts = append(mounts, corev1.VolumeMount{Name: "dshm", MountPath: "/dev/shm"})

	res := corev1.ResourceRequirements{}
	if gpus > 0 {
		q := *resource.NewQuantity(int64(gpus), resource.DecimalSI)
		// Extended resources are requested through limits; requests
		// default to them.
		res.Limits = corev1.ResourceList{corev1.ResourceName(cfg.GPUResource): q}
	}
	if cfg.CPU != "" || cfg.Memory != "" {
		res.Requests = corev1.ResourceList{}
		if cfg.CPU != "" {
			res.Requests[corev1.ResourceCPU] = resource.MustParse(cfg.CPU)
		}
		if cfg.Memory != "" {
			res.Requests[corev1.ResourceMemory] = resource.MustParse(cfg.Memory)
		}
	}
	var env []corev1.EnvVar
	if gpus == 0 {
		// On GPU nodes whose default runtime is NVIDIA's, a container
		// without a GPU request would otherwise see every GPU.
		env = append(env, corev1.EnvVar{Name: "NVIDIA_VISIBLE_DEVICES", Value: "void"})
	}
	var envFrom []corev1.EnvFromSource
	if cfg.SecretEnv != "" {
		envFrom = append(envFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: cfg.SecretEnv}}})
	}
	health := func(path string) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}}
	}
	c := corev1.Container{
		Name:    containerName,
		Image:   cfg.Image,
		Command: []string{"tritonserver"},
		Args: []string{
			"--model-repository=" + repo,
			"--model-control-mode=explicit",
			"--load-model=" + model,
			"--grpc-port=" + strconv.Itoa(cfg.GRPCPort),
			"--http-port=" + strconv.Itoa(spec.DefaultHTTPPort),
			"--metrics-port=" + strconv.Itoa(cfg.MetricsPort),
		},
		Ports: []corev1.ContainerPort{
			{Name: "grpc", ContainerPort: int32(cfg.GRPCPort), Protocol: corev1.ProtocolTCP},
			{Name: "http", ContainerPort: spec.DefaultHTTPPort, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: int32(cfg.MetricsPort), Protocol: corev1.ProtocolTCP},
		},
		Env:          env,
		EnvFrom:      envFrom,
		Resources:    res,
		VolumeMounts: mounts,
		// Loading a large model from object storage takes minutes: the
		// startup probe allows 10 of them before liveness applies.
		StartupProbe:   &corev1.Probe{ProbeHandler: health("/v2/health/live"), PeriodSeconds: 5, FailureThreshold: 120},
		LivenessProbe:  &corev1.Probe{ProbeHandler: health("/v2/health/live"), PeriodSeconds: 10, FailureThreshold: 3},
		ReadinessProbe: &corev1.Probe{ProbeHandler: health("/v2/health/ready"), PeriodSeconds: 5, FailureThreshold: 3},
	}
	var tols []corev1.Toleration
	for _, t := range cfg.Tolerations {
		tol := corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value, Effect: corev1.TaintEffect(t.Effect)}
		if t.TolerationSeconds > 0 {
			secs := t.TolerationSeconds
			tol.TolerationSeconds = &secs
		}
		tols = append(tols, tol)
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			// Recreate: a rolling update would need the GPUs of old and
			// new pods at once, and a point must not mix configurations.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: map[string]string{AnnotationSweepID: sweepID}},
				Spec: corev1.PodSpec{
					Containers:   []corev1.Container{c},
					Volumes:      volumes,
					NodeSelector: cfg.NodeSelector,
					Tolerations:  tols,
				},
			},
		},
	}
}

// AgentJob is the Job that runs k load agents (`iaasbench agent
// --coordinator ADDR`) inside the cluster, next to the servers, each
// with its completion index in JOB_COMPLETION_INDEX, in the image
// cfg.AgentImage. cfg must be defaulted.
func AgentJob(cfg Config, sweepID string, k int, coordinator string) *batchv1.Job {
	n := int32(max(k, 1))
	zero := int32(0)
	meta := objectMeta(cfg, cfg.Name+"-agents", sweepID, componentAgent)
	indexed := batchv1.IndexedCompletion
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			Parallelism:    &n,
			Completions:    &n,
			CompletionMode: &indexed,
			// A failed agent fails the measurement; retrying it alone
			// would measure a different load.
			BackoffLimit: &zero,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
					LabelManagedBy: ManagedBy, LabelSweep: meta.Labels[LabelSweep],
					LabelInstance: cfg.Name, LabelComponent: componentAgent,
				}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name:  "agent",
						Image: cfg.AgentImage,
						Args:  []string{"agent", "--coordinator", coordinator},
					}},
				},
			},
		},
	}
}

// WriteYAML writes objects as a multi-document YAML stream that kubectl
// apply accepts, without the empty status and null fields of a
// client-side object.
func WriteYAML(w io.Writer, objs ...runtime.Object) error {
	for i, o := range objs {
		js, err := json.Marshal(o)
		if err != nil {
			return fmt.Errorf("encode %T: %w", o, err)
		}
		// JSON is YAML: decoding into a node keeps the API's field order.
		var doc yaml.Node
		if err := yaml.Unmarshal(js, &doc); err != nil {
			return fmt.Errorf("encode %T: %w", o, err)
		}
		tidy(&doc)
		dropStatus(&doc)
		apiVersionFirst(&doc)
		var buf bytes.Buffer
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&doc); err != nil {
			return fmt.Errorf("encode %T: %w", o, err)
		}
		if err := enc.Close(); err != nil {
			return err
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// tidy drops null fields and turns JSON's flow style into block style;
// the encoder still quotes strings that would read as another type.
func tidy(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.MappingNode {
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			tidy(v)
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			k.Style = 0
			kept = append(kept, k, v)
		}
		n.Content = kept
		return
	}
	for _, c := range n.Content {
		tidy(c)
	}
}

// dropStatus removes the top-level status: the cluster writes it.
func dropStatus(doc *yaml.Node) {
	m := doc
	if m.Kind == yaml.DocumentNode && len(m.Content) == 1 {
		m = m.Content[0]
	}
	if m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "status" {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// apiVersionFirst puts apiVersion before kind, as manifests are written
// (TypeMeta encodes kind first).
func apiVersionFirst(doc *yaml.Node) {
	m := doc
	if m.Kind == yaml.DocumentNode && len(m.Content) == 1 {
		m = m.Content[0]
	}
	if m.Kind == yaml.MappingNode && len(m.Content) >= 4 && m.Content[0].Value == "kind" && m.Content[2].Value == "apiVersion" {
		m.Content[0], m.Content[1], m.Content[2], m.Content[3] = m.Content[2], m.Content[3], m.Content[0], m.Content[1]
	}
}
