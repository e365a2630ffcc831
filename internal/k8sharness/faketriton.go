package k8sharness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/iaasbench/iaasbench/server"
)

// FakeTriton stands in for the Triton containers kwok does not run: it
// serves an embedded iaasbench server on the IP of every running pod
// that matches a label selector (gRPC, KServe v2 HTTP and metrics on the
// pod's "grpc", "http" and "metrics" container ports), with as many emulated GPUs as the pod
// requests, and stops it when the pod goes.
type FakeTriton struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	servers map[string]*fakeServer // by pod UID
	started int
	errs    []error
}

type fakeServer struct {
	ip  string
	srv *server.Server
}

// ServeFakeTriton starts serving the pods of namespace that match
// selector (e.g. app.kubernetes.io/managed-by=iaasbench); gpuResource
// names the GPU resource to emulate.
func (cp *ControlPlane) ServeFakeTriton(ctx context.Context, namespace, selector, gpuResource string) *FakeTriton {
	ctx, cancel := context.WithCancel(ctx)
	f := &FakeTriton{cancel: cancel, done: make(chan struct{}), servers: map[string]*fakeServer{}}
	go func() {
		defer close(f.done)
		for {
			f.sync(ctx, cp, namespace, selector, gpuResource)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return f
}

func (f *FakeTriton) sync(ctx context.Context, cp *ControlPlane, ns, sel, gpuRes string) {
	pods, err := cp.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return // the next round retries; ctx cancel ends the loop
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	live := map[string]bool{}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil || pod.Status.PodIP == "" || pod.Status.Phase != corev1.PodRunning {
			continue
		}
		uid := string(pod.UID)
		live[uid] = true
		if f.servers[uid] != nil {
			continue
		}
		// kwok recycles a deleted pod's IP: free it first.
		for id, s := range f.servers {
			if s.ip == pod.Status.PodIP {
				s.srv.Stop()
				delete(f.servers, id)
			}
		}
		port, http, metrics, gpus := 8001, 8000, 8002, 0
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				switch p.Name {
				case "grpc":
					port = int(p.ContainerPort)
				case "http":
					http = int(p.ContainerPort)
				case "metrics":
					metrics = int(p.ContainerPort)
				}
			}
			if q, ok := c.Resources.Limits[corev1.ResourceName(gpuRes)]; ok {
				gpus += int(q.Value())
			}
		}
		srv, err := server.New(server.Options{
			Addr:         net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)),
			MetricsAddr:  net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(metrics)),
			HTTPAddr:     net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(http)),
			EmulatedGPUs: gpus, Version: "fake-triton", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("pod %s (%s): %w", pod.Name, pod.Status.PodIP, err))
			continue
		}
		f.servers[uid] = &fakeServer{ip: pod.Status.PodIP, srv: srv}
		f.started++
	}
	for uid, s := range f.servers {
		if !live[uid] {
			s.srv.Stop()
			delete(f.servers, uid)
		}
	}
}

// Running is the number of servers up now; Started counts all ever started.
func (f *FakeTriton) Running() (running, started int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.servers), f.started
}

// Errors are the servers that could not start.
func (f *FakeTriton) Errors() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}

// Stop stops serving and every server.
func (f *FakeTriton) Stop() {
	f.cancel()
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	for uid, s := range f.servers {
		s.srv.Stop()
		delete(f.servers, uid)
	}
}
