package sweep

import (
	"context"
	"log/slog"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/k8s"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// Kubernetes runs a scenario's servers as a Deployment on a cluster (see
// package k8s) and applies each point's model configuration with
// Configure, over the scenario's protocol (gRPC, or KServe v2 HTTP with
// workload.protocol: http).
type Kubernetes struct {
	kube *k8s.Target
}

// NewKubernetes connects to the cluster of the scenario's
// target.kubernetes and checks that objects of the scenario's name are
// free or this sweep's: sweepID labels everything, and a resumed sweep
// passes the ID of its results file so that it adopts its own objects.
func NewKubernetes(ctx context.Context, s *scenarios.Scenario, sweepID string, log *slog.Logger) (*Kubernetes, error) {
	kt, err := k8s.New(ctx, k8s.Options{
		Config: s.Target.Kubernetes, Scenario: s.Name, SweepID: sweepID, Model: s.Workload.Model, Logger: log,
		// The pods are waited for and configured over the load's protocol,
		// with its headers, as a remote target's servers are.
		Protocol: client.Protocol(s.Protocol()), Conn: s.Settings(),
		Configure: func(ctx context.Context, c client.Conn, p results.Point) error {
			return Configure(ctx, c, s, p)
		},
	})
	if err != nil {
		return nil, err
	}
	return &Kubernetes{kube: kt}, nil
}

// Prepare scales the servers to the point, waits for them, configures
// them, and reports what was really allocated.
func (t *Kubernetes) Prepare(ctx context.Context, p results.Point) (*Deployment, error) {
	srv, err := t.kube.Prepare(ctx, p)
	if err != nil {
		return nil, err
	}
	a := srv.Allocation
	return &Deployment{Addrs: srv.Addrs, MetricsURLs: srv.MetricsURLs, Server: srv.Server,
		Allocation: &results.Allocation{GPUProduct: a.GPUProduct, InstanceType: a.InstanceType, GPUs: a.GPUs, Nodes: a.Nodes, NodeNames: a.NodeNames}}, nil
}

// StartAgents runs k load agents in the cluster as a Job that dials
// coordinatorURL.
func (t *Kubernetes) StartAgents(ctx context.Context, k int, coordinatorURL string) error {
	return t.kube.StartAgents(ctx, k, coordinatorURL)
}

// Close removes the sweep's objects unless target.kubernetes.keep.
func (t *Kubernetes) Close() error { return t.kube.Close() }
