// Package k8sharness starts a real Kubernetes control plane for tests: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok, which
// fakes GPU nodes and pod lifecycles. Everything listens on 127.0.0.1;
// fake pods get IPs in 127.20.0.0/16 so that a test can serve each one
// with an embedded iaasbench server (FakeTriton). The binaries come from
// `make k8s-tools` (k8s/tools/build.sh).
package k8sharness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

//go:embed kwok.yaml
var kwokConfig []byte

// Binaries the control plane needs, all in one directory.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// Node is a fake node kwok keeps Ready.
type Node struct {
	Name         string
	GPUs         int    // nvidia.com/gpu capacity
	GPUProduct   string // nvidia.com/gpu.product label
	InstanceType string // node.kubernetes.io/instance-type label
	Labels       map[string]string
	Taints       []corev1.Taint
}

// Options configure Start.
type Options struct {
	// BinDir holds Binaries; empty uses BinDir().
	BinDir string
	// Dir holds certificates, data and logs; empty makes a temporary one
	// that Stop removes.
	Dir   string
	Nodes []Node
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// ControlPlane is a running control plane.
type ControlPlane struct {
	Dir        string
	Kubeconfig string // admin kubeconfig (static token)
	Config     *rest.Config
	Client     kubernetes.Interface

	procs   []*proc
	tempDir bool
	log     io.Writer
}

// BinDir is where `make k8s-tools` puts the binaries:
// $IAASBENCH_K8S_BIN, else ~/.cache/iaasbench/k8s/bin.
func BinDir() string {
	if d := os.Getenv("IAASBENCH_K8S_BIN"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "iaasbench-k8s-bin")
	}
	return filepath.Join(home, ".cache", "iaasbench", "k8s", "bin")
}

// CheckBinaries says which binaries are missing from dir, and how to
// build them.
func CheckBinaries(dir string) error {
	var missing []string
	for _, b := range Binaries {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("control-plane binaries missing from %s: %s (build them with `make k8s-tools`, ~30 min cold on 2 cores)",
			dir, strings.Join(missing, ", "))
	}
	return nil
}

// Start starts the control plane and the fake nodes and returns once
// the nodes are Ready and pods can be created in the default namespace.
// On error everything started is stopped.
func Start(ctx context.Context, o Options) (cp *ControlPlane, err error) {
	bin := o.BinDir
	if bin == "" {
		bin = BinDir()
	}
	if err := CheckBinaries(bin); err != nil {
		return nil, err
	}
	cp = &ControlPlane{Dir: o.Dir, log: o.Log}
	if cp.log == nil {
		cp.log = io.Discard
	}
	if cp.Dir == "" {
		if cp.Dir, err = os.MkdirTemp("", "iaasbench-k8s-"); err != nil {
			return nil, err
		}
		cp.tempDir = true
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w%s", err, cp.logTails())
			_ = cp.Stop()
			cp = nil
		}
	}()
	for _, d := range []string{"pki", "logs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(cp.Dir, d), 0o700); err != nil {
			return cp, err
		}
	}
	pki, err := writePKI(filepath.Join(cp.Dir, "pki"))
	if err != nil {
		return cp, fmt.Errorf("certificates: %w", err)
	}
	ports, err := freePorts(5)
	if err != nil {
		return cp, err
	}
	etcdPort, etcdPeer, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	cp.Kubeconfig = filepath.Join(cp.Dir, "kubeconfig")
	if err := writeKubeconfig(cp.Kubeconfig, server, pki); err != nil {
		return cp, err
	}
	kwokPath := filepath.Join(cp.Dir, "kwok.yaml")
	if err := os.WriteFile(kwokPath, kwokConfig, 0o600); err != nil {
		return cp, err
	}
	p := func(name string) string { return filepath.Join(pki.dir, name) }
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	start := time.Now()
	if err := cp.start(bin, "etcd",
		"--name=default", "--data-dir="+filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		// Test data need not survive a crash; fsync dominates etcd's
		// latency on shared disks.
		"--unsafe-no-fsync", "--log-level=warn",
	); err != nil {
		return cp, err
	}
	if err := cp.start(bin, "kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+filepath.Join(cp.Dir, "pki"),
		"--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--client-ca-file="+p("ca.crt"), "--token-auth-file="+p("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p("sa.pub"), "--service-account-signing-key-file="+p("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		// The kubernetes Service's endpoint may not be a loopback
		// address; nothing in the tests dials it.
		"--endpoint-reconciler-type=none", "--profiling=false",
	); err != nil {
		return cp, err
	}
	if err := cp.waitHealthy(ctx, server+"/readyz", pki, 60*time.Second); err != nil {
		return cp, fmt.Errorf("kube-apiserver: %w", err)
	}
	fmt.Fprintf(cp.log, "harness: etcd and kube-apiserver ready in %v\n", time.Since(start).Round(time.Millisecond))
	kc := "--kubeconfig=" + cp.Kubeconfig
	if err := cp.start(bin, "kube-controller-manager", kc,
		"--authentication-kubeconfig="+cp.Kubeconfig, "--authorization-kubeconfig="+cp.Kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--leader-elect=false", "--use-service-account-credentials=false",
		"--service-account-private-key-file="+p("sa.key"), "--root-ca-file="+p("ca.crt"),
	); err != nil {
		return cp, err
	}
	if err := cp.start(bin, "kube-scheduler", kc,
		"--authentication-kubeconfig="+cp.Kubeconfig, "--authorization-kubeconfig="+cp.Kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort), "--leader-elect=false",
	); err != nil {
		return cp, err
	}
	if err := cp.start(bin, "kwok", kc, "--config="+kwokPath,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1", "--cidr=127.20.0.0/16",
	); err != nil {
		return cp, err
	}
	if cp.Config, err = clientcmd.BuildConfigFromFlags("", cp.Kubeconfig); err != nil {
		return cp, err
	}
	cp.Config.QPS, cp.Config.Burst = 100, 200
	if cp.Client, err = kubernetes.NewForConfig(cp.Config); err != nil {
		return cp, err
	}
	for i, n := range o.Nodes {
		if err := cp.AddNode(ctx, n, i); err != nil {
			return cp, err
		}
	}
	if err := cp.WaitNamespace(ctx, metav1.NamespaceDefault); err != nil {
		return cp, err
	}
	if err := cp.waitNodes(ctx, o.Nodes); err != nil {
		return cp, err
	}
	fmt.Fprintf(cp.log, "harness: control plane with %d fake nodes ready in %v (%s)\n", len(o.Nodes), time.Since(start).Round(time.Millisecond), cp.Dir)
	return cp, nil
}

// AddNode registers a fake node; index picks its pod CIDR 127.20.index.0/24.
func (cp *ControlPlane) AddNode(ctx context.Context, n Node, index int) error {
	labels := map[string]string{"kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux", "type": "kwok"}
	if n.GPUProduct != "" {
		labels["nvidia.com/gpu.product"] = n.GPUProduct
	}
	if n.InstanceType != "" {
		labels["node.kubernetes.io/instance-type"] = n.InstanceType
	}
	for k, v := range n.Labels {
		labels[k] = v
	}
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("512Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	if n.GPUs > 0 {
		res["nvidia.com/gpu"] = *resource.NewQuantity(int64(n.GPUs), resource.DecimalSI)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels, Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
		Spec:       corev1.NodeSpec{PodCIDR: fmt.Sprintf("127.20.%d.0/24", index), PodCIDRs: []string{fmt.Sprintf("127.20.%d.0/24", index)}, Taints: n.Taints},
		Status:     corev1.NodeStatus{Capacity: res, Allocatable: res},
	}
	if _, err := cp.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create node %s: %w", n.Name, err)
	}
	return nil
}

// WaitNamespace creates ns if needed and waits until the controller
// manager has made its default service account, without which pods are
// refused.
func (cp *ControlPlane) WaitNamespace(ctx context.Context, ns string) error {
	_, err := cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return poll(ctx, 60*time.Second, "service account "+ns+"/default", func() (bool, error) {
		_, err := cp.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

func (cp *ControlPlane) waitNodes(ctx context.Context, nodes []Node) error {
	for _, n := range nodes {
		err := poll(ctx, 60*time.Second, "node "+n.Name+" Ready", func() (bool, error) {
			node, err := cp.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func poll(ctx context.Context, limit time.Duration, what string, ok func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		done, err := ok()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", limit, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (cp *ControlPlane) waitHealthy(ctx context.Context, url string, pki *pkiFiles, limit time.Duration) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.caPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var last string
	err := poll(ctx, limit, url, func() (bool, error) {
		for _, pr := range cp.procs {
			if pr.exited() {
				return false, fmt.Errorf("%s exited: %v", pr.name, pr.err)
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		req.Header.Set("Authorization", "Bearer "+pki.token)
		resp, err := hc.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		last = resp.Status + ": " + string(body)
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil && last != "" {
		return fmt.Errorf("%w (last answer: %s)", err, last)
	}
	return err
}

// proc is one control-plane process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (cp *ControlPlane) start(bin, name string, args ...string) error {
	logPath := filepath.Join(cp.Dir, "logs", name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = cp.Dir
	// Own process group, so a terminal's Ctrl-C reaches only the test
	// (which stops these in order); and killed with the test process if
	// it dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	pr := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		pr.err = cmd.Wait()
		f.Close()
		close(pr.done)
	}()
	cp.procs = append(cp.procs, pr)
	fmt.Fprintf(cp.log, "harness: started %s (pid %d)\n", name, cmd.Process.Pid)
	return nil
}

// Stop stops every process in reverse order of start (SIGTERM, then
// SIGKILL after 5 s) and removes a temporary directory. It is safe to
// call more than once.
func (cp *ControlPlane) Stop() error {
	var errs []error
	for i := len(cp.procs) - 1; i >= 0; i-- {
		pr := cp.procs[i]
		if pr.exited() {
			continue
		}
		_ = pr.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-pr.done:
		case <-time.After(5 * time.Second):
			_ = pr.cmd.Process.Kill()
			<-pr.done
			errs = append(errs, fmt.Errorf("%s did not stop on SIGTERM; killed", pr.name))
		}
	}
	cp.procs = nil
	if cp.tempDir && cp.Dir != "" {
		if err := os.RemoveAll(cp.Dir); err != nil {
			errs = append(errs, err)
		}
		cp.Dir = ""
	}
	return errors.Join(errs...)
}

// Pids are the process IDs of the running components (tests check that
// Stop leaves none).
func (cp *ControlPlane) Pids() []int {
	var out []int
	for _, pr := range cp.procs {
		if !pr.exited() {
			out = append(out, pr.cmd.Process.Pid)
		}
	}
	return out
}

// logTails is the end of each component's log, to explain a failed start.
func (cp *ControlPlane) logTails() string {
	var b strings.Builder
	for _, pr := range cp.procs {
		data, err := os.ReadFile(pr.log)
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > 1500 {
			data = data[len(data)-1500:]
		}
		fmt.Fprintf(&b, "\n--- %s log tail ---\n%s", pr.name, bytes.TrimSpace(data))
	}
	return b.String()
}

func freePorts(n int) ([]int, error) {
	var out []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
