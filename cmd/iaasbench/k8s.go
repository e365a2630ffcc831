package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/k8s"
	"github.com/iaasbench/iaasbench/scenarios"
)

// runK8s holds the Kubernetes helpers; the sweep itself runs with
// `iaasbench sweep` on a scenario whose target.kind is kubernetes.
func runK8s(_ context.Context, args []string, out io.Writer) error {
	return dispatch("k8s", help{
		usage: "k8s <manifests> [flags]",
		about: `Kubernetes helpers. A sweep of a scenario whose target.kind is kubernetes
creates these objects itself; docs/kubernetes.md explains the settings.`,
		examples: []string{"iaasbench k8s manifests --scenario quickstart --config k8s.yaml | kubectl apply --dry-run=server -f -"},
	}, []subcommand{
		{"manifests", "print the Service, Deployments (and agents' Job) a sweep of a scenario applies", k8sManifests},
	}, "", args, out)
}

func k8sManifests(args []string, out io.Writer) error {
	fs := newCmdFlags("k8s manifests", help{
		usage: "k8s manifests [--scenario S] [--config FILE] [--sweep-id ID] [--agents K --coordinator ADDR]",
		about: `Prints the objects a sweep of the scenario applies, as YAML: the Service,
a Deployment per (servers, gpus) shape and the agents' Job.`,
		examples: []string{
			"iaasbench k8s manifests --scenario quickstart --model-repository s3://bucket/models",
			"iaasbench k8s manifests --scenario mine.yaml --config k8s.yaml --agents 4 --coordinator 10.0.0.5:7070",
		},
	})
	name := fs.String("scenario", "quickstart", "built-in scenario `NAME` or YAML file")
	cfgFile := fs.String("config", "", "YAML `FILE` of target.kubernetes settings (replaces the scenario's)")
	repo := fs.String("model-repository", "", "the model repository `URI` (replaces target.kubernetes.model_repository)")
	sweepID := fs.String("sweep-id", "dry-run", "sweep `ID` the labels name (a sweep uses its own)")
	agents := fs.Int("agents", 0, "also print the Job of `K` load agents")
	coordinator := fs.String("coordinator", "", "coordinator `ADDR` the agents dial (with --agents)")
	if err := fs.parseFlagsOnly(args, out); err != nil {
		return err
	}
	s, err := scenarios.Resolve(*name)
	if err != nil {
		return err
	}
	cfg := s.Target.Kubernetes
	if *cfgFile != "" {
		if cfg, err = k8s.ReadConfig(*cfgFile); err != nil {
			return err
		}
	}
	if *repo != "" {
		cfg.ModelRepository = *repo
	}
	cfg = cfg.WithDefaults(s.Name)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("scenario %s: %w (or pass --config FILE / --model-repository)", s.Name, err)
	}
	if *agents > 0 && *coordinator == "" {
		return fmt.Errorf("--agents needs --coordinator ADDR")
	}
	shapes := k8s.Shapes(s.Points())
	// Written whole or not at all: a half manifest must not reach kubectl.
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# iaasbench %s: scenario %s, model %s, namespace %s; %d (servers, gpus) shapes\n",
		version, s.Name, s.Workload.Model, cfg.Namespace, len(shapes))
	fmt.Fprintf(&buf, "# A sweep applies the Service once and the Deployment per point, scaling it in place.\n")
	if err := k8s.WritePlan(&buf, cfg, *sweepID, s.Workload.Model, client.Protocol(s.Protocol()), shapes, *agents, *coordinator); err != nil {
		return err
	}
	_, err = out.Write(buf.Bytes())
	return err
}
