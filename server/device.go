package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/hist"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
)

// EmulatedGPUSpin is the most of an emulated GPU's call that is CPU work:
// a device sleeps through a long call and spins only its last stretch. The
// simulator's host model takes it from here rather than knowing the
// emulator's internals.
const EmulatedGPUSpin = backend.SpinMargin + backend.SpinSlack

// gpu is an emulated GPU. It runs one call at a time, as a GPU runs one
// small kernel sequence at a time from the host's view: instances placed on
// the same device share its capacity rather than multiply it. A call holds
// the device for the profile's service time (or the real CPU compute time
// when that is longer, or when the model has no profile).
type gpu struct {
	index    int
	uuid     string
	profiles map[string]*device.Profile

	mu     sync.Mutex
	took   hist.Histogram // call durations since the last ResetDeviceCalls; guarded by mu
	busyNS atomic.Int64
	calls  atomic.Int64
	util   atomic.Uint64 // float64 bits: utilization over the last interval, 0..1
}

func (d *gpu) run(ctx context.Context, model string, rows int, f func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := time.Now()
	err := f()
	if p := d.profiles[model]; p != nil {
		if rest := p.ServiceTime(rows) - time.Since(start); rest > 0 {
			if berr := backend.Busy(ctx, rest); berr != nil && err == nil {
				err = berr
			}
		}
	}
	took := time.Since(start)
	d.took.Record(int64(took))
	d.busyNS.Add(int64(took))
	d.calls.Add(1)
	return err
}

// DeviceCalls returns the durations of the emulated GPUs' calls since the
// last ResetDeviceCalls (all devices together; nil without emulated
// GPUs): how far the emulation strays from its profile on this host,
// which the simulator draws from when it validates against a sweep.
func (s *Server) DeviceCalls() *hist.Histogram {
	if len(s.devices) == 0 {
		return nil
	}
	out := hist.New()
	for _, d := range s.devices {
		d.mu.Lock()
		out.Merge(&d.took)
		d.mu.Unlock()
	}
	return out
}

// ResetDeviceCalls empties what DeviceCalls returns.
func (s *Server) ResetDeviceCalls() {
	for _, d := range s.devices {
		d.mu.Lock()
		d.took.Reset()
		d.mu.Unlock()
	}
}

// devicesFor places an instance group on the server's emulated GPUs, as
// Triton places a KIND_GPU group on every listed GPU (all GPUs when the
// list is empty).
func (s *Server) devicesFor(model string, g *pb.ModelInstanceGroup) ([]*gpu, error) {
	kind := g.GetKind()
	if kind == pb.ModelInstanceGroup_KIND_CPU || kind == pb.ModelInstanceGroup_KIND_MODEL {
		return nil, nil
	}
	if len(s.devices) == 0 {
		if kind == pb.ModelInstanceGroup_KIND_AUTO {
			return nil, nil
		}
		return nil, fmt.Errorf("model %q: instance_group %q is KIND_GPU but this server has no GPUs (start it with --emulated-gpus N to emulate some)", model, g.GetName())
	}
	if len(g.GetGpus()) == 0 {
		return s.devices, nil
	}
	var out []*gpu
	for _, id := range g.GetGpus() {
		if id < 0 || int(id) >= len(s.devices) {
			return nil, fmt.Errorf("model %q: instance_group %q asks for GPU %d but this server has GPUs 0..%d", model, g.GetName(), id, len(s.devices)-1)
		}
		out = append(out, s.devices[id])
	}
	return out, nil
}

// sampleDevices updates each device's utilization every interval, as
// NVML's utilization is a busy fraction over a sample period.
func (s *Server) sampleDevices(ctx context.Context, interval time.Duration) {
	last := make([]int64, len(s.devices))
	lastT := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			wall := float64(now.Sub(lastT))
			for i, d := range s.devices {
				b := d.busyNS.Load()
				u := min(float64(b-last[i])/wall, 1)
				d.util.Store(floatBits(u))
				last[i] = b
			}
			lastT = now
		}
	}
}

// deviceMemory returns the memory in use on each emulated GPU, in bytes,
// from the device profiles of the models placed on it: the largest idle
// figure among the profiles, plus for each model with instances there
// its loaded figure above idle and its per-instance figure for each
// further instance. ok[i] is false when no profile of the server gives
// memory figures: then nothing is reported for device i.
func (s *Server) deviceMemory() (used []float64, ok []bool) {
	used = make([]float64, len(s.devices))
	ok = make([]bool, len(s.devices))
	counts := make([]map[string]int, len(s.devices))
	s.mu.RLock()
	for _, e := range s.models {
		for _, mv := range e.versions {
			if mv.rt == nil {
				continue
			}
			for _, in := range mv.rt.instances {
				if in.device == nil {
					continue
				}
				if counts[in.device.index] == nil {
					counts[in.device.index] = map[string]int{}
				}
				counts[in.device.index][mv.rt.cfg.GetName()]++
			}
		}
	}
	s.mu.RUnlock()
	for i, d := range s.devices {
		var idle float64
		for _, p := range d.profiles {
			if p != nil && p.Memory != nil {
				ok[i] = true
				idle = max(idle, p.Memory.UsedBytes(0))
			}
		}
		used[i] = idle
		for model, n := range counts[i] {
			if p := d.profiles[model]; p != nil && p.Memory != nil {
				used[i] += p.Memory.UsedBytes(n) - p.Memory.UsedBytes(0)
			}
		}
	}
	return used, ok
}

func deviceUUID(i int) string { return fmt.Sprintf("GPU-emulated-%d", i) }
