// Package backend holds the compute of the embedded server's models: what a
// Triton backend does for a real server. Each backend is selected by the
// `backend` field of a model's config.pbtxt and configured by its
// `parameters`, so a model repository in Triton's layout can declare them.
package backend

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Batch is one execution: the merged rows of one or more requests.
type Batch struct {
	// Rows is the batch size (the first dimension of every input) for
	// batching models, or 1 for models with max_batch_size 0.
	Rows int
	// Inputs holds each input in the order of the model config's inputs,
	// with its full shape (batch dim included where the model batches).
	// Backends only read them: they may be views of the request's bytes.
	Inputs []Tensor
	// Outputs are set by Execute, in the order of the model config's
	// outputs.
	Outputs []Tensor
	// State is the sequence's state for stateful models (from NewState).
	State any
}

// ErrInput marks an execution error caused by the request's data (a
// malformed element, say) rather than by the server: the server answers
// it as an invalid argument, not an internal error.
var ErrInput = errors.New("bad input")

// Instance is one copy of a model: it executes one batch at a time and owns
// its scratch memory.
type Instance interface {
	Execute(ctx context.Context, b *Batch) error
}

// Model creates instances and, for stateful models, per-sequence state.
type Model interface {
	NewInstance() (Instance, error)
	// NewState returns fresh per-sequence state, or nil for stateless models.
	NewState() any
}

// Names lists the backends this package provides.
func Names() []string {
	return []string{DenseName, CalibratedName, SnapshotterName, ChannelMixName, AddSubName}
}

// New builds the model described by cfg. Ensembles are not backends; the
// server schedules their steps itself.
func New(cfg *pb.ModelConfig) (Model, error) {
	p := params{cfg: cfg}
	var m Model
	var err error
	switch cfg.GetBackend() {
	case DenseName:
		m, err = newDense(p)
	case CalibratedName:
		m, err = newCalibrated(p)
	case SnapshotterName:
		m, err = newSnapshotter(p)
	case ChannelMixName:
		m, err = newChannelMix(p)
	case AddSubName:
		m, err = newAddSub(p)
	case "":
		return nil, fmt.Errorf("model %q: no backend set (the embedded server runs backends %s)", cfg.GetName(), strings.Join(Names(), ", "))
	default:
		return nil, fmt.Errorf("model %q: backend %q cannot run in the embedded server (it runs %s); serve it with a real Triton",
			cfg.GetName(), cfg.GetBackend(), strings.Join(Names(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", cfg.GetName(), err)
	}
	return m, nil
}

// params reads typed values from a config's parameters map.
type params struct{ cfg *pb.ModelConfig }

func (p params) str(key, def string) string {
	if v, ok := p.cfg.GetParameters()[key]; ok {
		return strings.TrimSpace(v.GetStringValue())
	}
	return def
}

func (p params) float(key string, def float64) (float64, error) {
	s := p.str(key, "")
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %q is not a number", key, s)
	}
	return v, nil
}

func (p params) int(key string, def int) (int, error) {
	s := p.str(key, "")
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %q is not an integer", key, s)
	}
	return v, nil
}

func (p params) ints(key string) ([]int, error) {
	s := p.str(key, "")
	if s == "" {
		return nil, fmt.Errorf("parameter %s is required", key)
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("parameter %s: %q is not a list of positive integers", key, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// knownKeys rejects parameters a backend does not understand, so a typo in
// config.pbtxt is an error rather than a silent default.
func (p params) knownKeys(keys ...string) error {
	var unknown []string
	for k := range p.cfg.GetParameters() {
		found := false
		for _, want := range keys {
			if k == want {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("unknown parameters %s for backend %s (known: %s)", strings.Join(unknown, ", "), p.cfg.GetBackend(), strings.Join(keys, ", "))
	}
	return nil
}
