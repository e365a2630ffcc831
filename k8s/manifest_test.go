package k8s

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/k8s/spec"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func testConfig() Config {
	return Config{ModelRepository: "s3://bucket/models", NodeSelector: map[string]string{"pool": "gpu"},
		Tolerations: []Toleration{{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}}}.WithDefaults("DeepClean Online")
}

func TestManifestsRequestGPUsAndLabelEverything(t *testing.T) {
	cfg := testConfig()
	o := Manifests(cfg, "deepclean-online-1a2b3c4d", "deepclean", 3, 2, "")
	d, s := o.Deployment, o.Service
	if d.Name != "iaasbench-deepclean-online" || s.Name != d.Name || d.Namespace != "default" {
		t.Fatalf("names: deployment %s/%s, service %s", d.Namespace, d.Name, s.Name)
	}
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", *d.Spec.Replicas)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if q := c.Resources.Limits[corev1.ResourceName("nvidia.com/gpu")]; q.Value() != 2 {
		t.Errorf("GPU limit = %v, want 2", q.String())
	}
	for _, a := range []string{"--model-repository=s3://bucket/models", "--model-control-mode=explicit", "--load-model=deepclean", "--grpc-port=8001", "--metrics-port=8002"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v lack %s", c.Args, a)
		}
	}
	for what, l := range map[string]map[string]string{"deployment": d.Labels, "service": s.Labels, "pod template": d.Spec.Template.Labels} {
		if l[LabelManagedBy] != "iaasbench" || l[LabelSweep] != "deepclean-online-1a2b3c4d" {
			t.Errorf("%s labels %v lack the sweep's", what, l)
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labelSet(d.Spec.Template.Labels)) || !equality.Semantic.DeepEqual(s.Spec.Selector, d.Spec.Selector.MatchLabels) {
		t.Errorf("service selector %v and deployment selector %v must select the template labels %v", s.Spec.Selector, d.Spec.Selector, d.Spec.Template.Labels)
	}
	if s.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("default service must be headless, got clusterIP %q", s.Spec.ClusterIP)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %s: a rolling update needs the GPUs of two configurations at once", d.Spec.Strategy.Type)
	}
	if d.Spec.Template.Spec.NodeSelector["pool"] != "gpu" || len(d.Spec.Template.Spec.Tolerations) != 1 {
		t.Errorf("placement not applied: %v %v", d.Spec.Template.Spec.NodeSelector, d.Spec.Template.Spec.Tolerations)
	}

	cpu := Manifests(cfg, "x", "m", 1, 0, "").Deployment.Spec.Template.Spec.Containers[0]
	if _, ok := cpu.Resources.Limits[corev1.ResourceName("nvidia.com/gpu")]; ok {
		t.Errorf("a CPU point requests GPUs: %v", cpu.Resources.Limits)
	}
}

type labelSet map[string]string

func (l labelSet) Has(k string) bool   { _, ok := l[k]; return ok }
func (l labelSet) Get(k string) string { return l[k] }
func (l labelSet) Lookup(k string) (string, bool) {
	v, ok := l[k]
	return v, ok
}

func TestManifestsPVCRepositoryAndServiceTypes(t *testing.T) {
	cfg := testConfig()
	cfg.ModelRepository = "pvc:models/triton"
	cfg.ServiceType = spec.ServiceNodePort
	o := Manifests(cfg, "s", "m", 1, 1, "")
	spec := o.Deployment.Spec.Template.Spec
	if !slices.Contains(spec.Containers[0].Args, "--model-repository=/models/triton") {
		t.Errorf("args %v: want the repository inside the mounted claim", spec.Containers[0].Args)
	}
	found := false
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "models" {
			found = true
		}
	}
	if !found {
		t.Errorf("no volume of claim models in %v", spec.Volumes)
	}
	if o.Service.Spec.Type != corev1.ServiceTypeNodePort || o.Service.Spec.ClusterIP != "" {
		t.Errorf("service type %s clusterIP %q, want NodePort with an assigned IP", o.Service.Spec.Type, o.Service.Spec.ClusterIP)
	}
}

func TestWriteYAMLRoundTrips(t *testing.T) {
	o := Manifests(testConfig(), "sweep-1", "mlp", 2, 1, "")
	var buf bytes.Buffer
	if err := WriteYAML(&buf, o.List()...); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, bad := range []string{"null", "status:", "{"} {
		if strings.Contains(text, bad) {
			t.Errorf("YAML contains %q:\n%s", bad, text)
		}
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
	var svc corev1.Service
	var dep appsv1.Deployment
	if err := dec.Decode(&svc); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&dep); err != nil {
		t.Fatal(err)
	}
	var extra appsv1.Deployment
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Errorf("want two documents, third decode: %v", err)
	}
	o.Service.Status, o.Deployment.Status = corev1.ServiceStatus{}, appsv1.DeploymentStatus{}
	if !equality.Semantic.DeepEqual(&svc, o.Service) {
		t.Errorf("service does not round-trip:\n%s", text)
	}
	if !equality.Semantic.DeepEqual(&dep, o.Deployment) {
		t.Errorf("deployment does not round-trip:\n%s", text)
	}
	// Port numbers and GPU counts must stay numbers, label values strings.
	if !strings.Contains(text, "nvidia.com/gpu: \"1\"") && !strings.Contains(text, "nvidia.com/gpu: 1") {
		t.Errorf("GPU limit missing:\n%s", text)
	}
}

func TestAgentJob(t *testing.T) {
	j := AgentJob(testConfig(), "sweep-1", 4, "10.0.0.5:7000")
	if *j.Spec.Parallelism != 4 || *j.Spec.Completions != 4 {
		t.Errorf("parallelism %d completions %d, want 4 and 4", *j.Spec.Parallelism, *j.Spec.Completions)
	}
	c := j.Spec.Template.Spec.Containers[0]
	if want := []string{"agent", "--coordinator", "10.0.0.5:7000"}; !slices.Equal(c.Args, want) {
		t.Errorf("args %v, want %v", c.Args, want)
	}
	if c.Image != spec.DefaultAgentImage || j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("image %s restart %s", c.Image, j.Spec.Template.Spec.RestartPolicy)
	}
	if j.Labels[LabelSweep] != "sweep-1" || j.Spec.Template.Labels[LabelSweep] != "sweep-1" {
		t.Errorf("job not labelled with its sweep: %v", j.Labels)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := testConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := testConfig()
	bad.ModelRepository = ""
	bad.ServiceType = "ClusterIP"
	bad.Tolerations[0].Effect = "Never"
	bad.CPU = "four"
	bad.ReadyTimeout = "soon"
	bad.MetricsPort = 8001
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, field := range []string{"target.kubernetes.model_repository", "target.kubernetes.service_type", "target.kubernetes.tolerations[0].effect",
		"target.kubernetes.cpu", "target.kubernetes.ready_timeout", "target.kubernetes.grpc_port"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
}

func TestSweepLabelAndObjectName(t *testing.T) {
	long := strings.Repeat("very-long-scenario-name-", 4) + "deadbeef"
	l := SweepLabel(long)
	if len(l) > 63 || !strings.HasSuffix(l, "deadbeef") {
		t.Errorf("SweepLabel(%q) = %q: want ≤63 characters keeping the random tail", long, l)
	}
	if SweepLabel("a b/c") != "a-b-c" {
		t.Errorf("SweepLabel(a b/c) = %q", SweepLabel("a b/c"))
	}
	n := spec.ObjectName("My_Scenario " + strings.Repeat("x", 80))
	if len(n) > spec.MaxNameLen || !strings.HasPrefix(n, "iaasbench-my-scenario-") {
		t.Errorf("ObjectName = %q", n)
	}
	cfg := Config{ModelRepository: "/models"}.WithDefaults(strings.Repeat("x", 80))
	if err := cfg.Validate(); err != nil {
		t.Errorf("a long scenario name must still give a valid object name: %v", err)
	}
}

// The load's protocol decides the ports the Service exposes and the
// addresses the target hands out; the Deployment is the same either way
// (the pods always serve HTTP, for their probes).
func TestManifestsAndAddressesPerProtocol(t *testing.T) {
	cfg := testConfig()
	ports := func(s *corev1.Service) []string {
		var out []string
		for _, p := range s.Spec.Ports {
			out = append(out, p.Name+":"+strconv.Itoa(int(p.Port))+"->"+p.TargetPort.String())
		}
		return out
	}
	grpc := Manifests(cfg, "s", "mlp", 2, 1, client.GRPC)
	if got, want := ports(grpc.Service), []string{"grpc:8001->grpc", "metrics:8002->metrics"}; !slices.Equal(got, want) {
		t.Errorf("gRPC service ports %v, want %v", got, want)
	}
	if !equality.Semantic.DeepEqual(Manifests(cfg, "s", "mlp", 2, 1, ""), grpc) {
		t.Errorf("an empty protocol must build the gRPC objects")
	}
	http := Manifests(cfg, "s", "mlp", 2, 1, client.HTTP)
	if got, want := ports(http.Service), []string{"grpc:8001->grpc", "http:8000->http", "metrics:8002->metrics"}; !slices.Equal(got, want) {
		t.Errorf("HTTP service ports %v, want %v", got, want)
	}
	if !equality.Semantic.DeepEqual(http.Deployment, grpc.Deployment) {
		t.Errorf("the protocol changed the deployment: the pods must not restart for it")
	}
	var named bool
	for _, p := range http.Deployment.Spec.Template.Spec.Containers[0].Ports {
		named = named || p.Name == "http" && p.ContainerPort == spec.DefaultHTTPPort
	}
	if !named {
		t.Errorf("the container has no port named http for the Service's target")
	}

	for _, c := range []struct {
		proto    client.Protocol
		ip, want string
	}{
		{client.GRPC, "10.1.2.3", "10.1.2.3:8001"},
		{"", "10.1.2.3", "10.1.2.3:8001"},
		{client.HTTP, "10.1.2.3", "http://10.1.2.3:8000"},
		{client.HTTP, "fd00::7", "http://[fd00::7]:8000"},
	} {
		addr := PodAddr(cfg, c.proto, c.ip)
		if addr != c.want {
			t.Errorf("PodAddr(%q, %s) = %s, want %s", c.proto, c.ip, addr, c.want)
			continue
		}
		e, err := client.ParseEndpoint(addr)
		if wantProto := or(string(c.proto), "grpc"); err != nil || string(e.Protocol) != wantProto || e.TLS {
			t.Errorf("PodAddr %s parses as %+v (%v), want plaintext %s", addr, e, err, wantProto)
		}
	}
	other := cfg
	other.GRPCPort = 9001
	if addr := PodAddr(other, client.GRPC, "10.1.2.3"); addr != "10.1.2.3:9001" {
		t.Errorf("grpc_port 9001: %s", addr)
	}
}

func TestWritePlanHTTPServicePort(t *testing.T) {
	var grpc, http bytes.Buffer
	shapes := []Shape{{1, 1}, {2, 1}}
	if err := WritePlan(&grpc, testConfig(), "s", "mlp", client.GRPC, shapes, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := WritePlan(&http, testConfig(), "s", "mlp", client.HTTP, shapes, 0, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(grpc.String(), "- name: http\n      protocol: TCP\n      port: 8000\n      targetPort: http\n") {
		t.Errorf("gRPC plan exposes the HTTP port on the Service:\n%s", grpc.String())
	}
	if !strings.Contains(http.String(), "- name: http\n      protocol: TCP\n      port: 8000\n      targetPort: http\n") {
		t.Errorf("HTTP plan lacks the Service's http port:\n%s", http.String())
	}
}
