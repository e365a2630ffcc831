package k8s

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/results"
)

// Shape is what the servers' Deployment depends on; other dimensions
// only reconfigure the model or the load.
type Shape struct{ Servers, GPUs int }

// Shapes are the distinct (servers, gpus) of points, in first-seen order.
func Shapes(points []results.Point) []Shape {
	var out []Shape
	seen := map[Shape]bool{}
	for _, p := range points {
		sh := Shape{max(p.Servers, 1), p.GPUs}
		if !seen[sh] {
			seen[sh] = true
			out = append(out, sh)
		}
	}
	return out
}

// WritePlan writes, as one YAML stream, what a sweep over points applies:
// the Service, a Deployment per shape (each after a comment naming it)
// and, when agents > 0, the Job of the load agents that dial coordinator;
// proto is the load's protocol ("" is gRPC).
func WritePlan(w io.Writer, cfg Config, sweepID, model string, proto client.Protocol, shapes []Shape, agents int, coordinator string) error {
	var objs []runtime.Object
	for i, sh := range shapes {
		o := Manifests(cfg, sweepID, model, sh.Servers, sh.GPUs, proto)
		if i == 0 {
			objs = append(objs, o.Service)
		}
		objs = append(objs, o.Deployment)
	}
	if agents > 0 {
		objs = append(objs, AgentJob(cfg, sweepID, agents, coordinator))
	}
	var buf bytes.Buffer
	for i, o := range objs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		if i > 0 && i <= len(shapes) {
			fmt.Fprintf(&buf, "# servers=%d gpus=%d\n", shapes[i-1].Servers, shapes[i-1].GPUs)
		}
		if err := WriteYAML(&buf, o); err != nil {
			return err
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// ReadConfig reads a target.kubernetes section from its own file,
// refusing unknown fields so that a typo is not silently ignored.
func ReadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && err != io.EOF {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
