package backend

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// SnapshotterName is the talk's streaming state model. Each sequence keeps
// the latest `kernel` samples of every channel; a request carries only the
// new samples (fs/r of them per channel), the model shifts them into its
// state and returns the whole snapshot. Clients then send kilobytes per
// request instead of the full window.
const SnapshotterName = "iaasbench_snapshotter"

// Snapshotter keeps per-sequence windows of Channels × Kernel samples.
type Snapshotter struct {
	Channels, Kernel int
}

func newSnapshotter(p params) (*Snapshotter, error) {
	if err := p.knownKeys("channels", "kernel"); err != nil {
		return nil, err
	}
	if err := p.requireTypes(SnapshotterName, pb.DataType_TYPE_FP32); err != nil {
		return nil, err
	}
	ch, err := p.int("channels", 21)
	if err != nil {
		return nil, err
	}
	k, err := p.int("kernel", 4096)
	if err != nil {
		return nil, err
	}
	if ch <= 0 || k <= 0 {
		return nil, fmt.Errorf("channels and kernel must be positive, got %d and %d", ch, k)
	}
	return &Snapshotter{Channels: ch, Kernel: k}, nil
}

// NewState returns an all-zero window.
func (s *Snapshotter) NewState() any { return make([]float32, s.Channels*s.Kernel) }

// NewInstance: instances share nothing; state lives with the sequence.
func (s *Snapshotter) NewInstance() (Instance, error) { return snapshotterInstance{s}, nil }

type snapshotterInstance struct{ s *Snapshotter }

// Execute expects one input of shape [channels, update] (update ≤ kernel).
func (in snapshotterInstance) Execute(_ context.Context, b *Batch) error {
	s := in.s
	state, ok := b.State.([]float32)
	if !ok {
		return fmt.Errorf("snapshotter needs sequence state: send sequence_id with sequence_start on the first request")
	}
	shape := b.Inputs[0].Shape
	if len(shape) != 2 || shape[0] != int64(s.Channels) {
		return fmt.Errorf("update has shape %v, want [%d, update]", shape, s.Channels)
	}
	u := int(shape[1])
	if u <= 0 || u > s.Kernel {
		return fmt.Errorf("update of %d samples per channel, want 1..%d (the kernel)", u, s.Kernel)
	}
	upd := b.Inputs[0].FP32
	for c := 0; c < s.Channels; c++ {
		row := state[c*s.Kernel : (c+1)*s.Kernel]
		copy(row, row[u:])
		copy(row[s.Kernel-u:], upd[c*u:(c+1)*u])
	}
	out := make([]float32, len(state))
	copy(out, state)
	b.Outputs = append(b.Outputs[:0], Tensor{Type: pb.DataType_TYPE_FP32, Shape: []int64{int64(s.Channels), int64(s.Kernel)}, FP32: out})
	return nil
}

// ChannelMixName is a stand-in for DeepClean's noise regression downstream
// of the snapshotter: a learned linear mix of the witness channels,
// out[t] = Σ_c w_c·in[c][t] + bias. It is not DeepClean's network; it gives
// the online pipeline a real, size-proportional amount of work.
const ChannelMixName = "iaasbench_channel_mix"

// ChannelMix mixes Channels input rows into one output row.
type ChannelMix struct {
	Channels int
	W        []float32
	Bias     float32
}

func newChannelMix(p params) (*ChannelMix, error) {
	if err := p.knownKeys("channels", "seed"); err != nil {
		return nil, err
	}
	if err := p.requireTypes(ChannelMixName, pb.DataType_TYPE_FP32); err != nil {
		return nil, err
	}
	ch, err := p.int("channels", 21)
	if err != nil {
		return nil, err
	}
	seed, err := p.int("seed", 1)
	if err != nil {
		return nil, err
	}
	if ch <= 0 {
		return nil, fmt.Errorf("channels must be positive, got %d", ch)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 99))
	m := &ChannelMix{Channels: ch, W: make([]float32, ch)}
	bound := 1 / math.Sqrt(float64(ch))
	for i := range m.W {
		m.W[i] = float32((rng.Float64()*2 - 1) * bound)
	}
	m.Bias = float32((rng.Float64()*2 - 1) * bound)
	return m, nil
}

// NewState: stateless.
func (m *ChannelMix) NewState() any { return nil }

// NewInstance returns an instance.
func (m *ChannelMix) NewInstance() (Instance, error) { return channelMixInstance{m}, nil }

type channelMixInstance struct{ m *ChannelMix }

// Execute expects [channels, T] (unbatched) or [batch, channels, T].
func (in channelMixInstance) Execute(_ context.Context, b *Batch) error {
	shape := b.Inputs[0].Shape
	if len(shape) < 2 || shape[len(shape)-2] != int64(in.m.Channels) {
		return fmt.Errorf("input has shape %v, want [..., %d, T]", shape, in.m.Channels)
	}
	t := int(shape[len(shape)-1])
	if t <= 0 {
		return fmt.Errorf("input has shape %v: no samples (T must be at least 1)", shape)
	}
	rows := len(b.Inputs[0].FP32) / (in.m.Channels * t)
	out := make([]float32, rows*t)
	x := b.Inputs[0].FP32
	for r := 0; r < rows; r++ {
		o := out[r*t : (r+1)*t]
		for i := range o {
			o[i] = in.m.Bias
		}
		for c := 0; c < in.m.Channels; c++ {
			w := in.m.W[c]
			src := x[(r*in.m.Channels+c)*t : (r*in.m.Channels+c+1)*t]
			for i, v := range src {
				o[i] += w * v
			}
		}
	}
	outShape := append(append([]int64{}, shape[:len(shape)-2]...), int64(t))
	b.Outputs = append(b.Outputs[:0], Tensor{Type: pb.DataType_TYPE_FP32, Shape: outShape, FP32: out})
	return nil
}
