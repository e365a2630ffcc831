package server

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/server/backend"
)

//go:embed profiles/*.json
var profileFS embed.FS

// Profile is a device profile: the service time of one call of a model on
// an accelerator as a function of batch size, measured on real hardware
// (or entered from published figures, with their source).
type Profile struct {
	Device   string         `json:"device"`
	Model    string         `json:"model"`
	What     string         `json:"what,omitempty"`
	Measured string         `json:"measured,omitempty"`
	Points   []ProfilePoint `json:"points"`
}

// ProfilePoint is the median service time of a call at one batch size.
type ProfilePoint struct {
	Batch int     `json:"batch"`
	P50US float64 `json:"p50_us"`
}

// DefaultProfile is the built-in profile used when none is named: the
// talk's MLP measured on an H200 with PyTorch 2.11 eager.
const DefaultProfile = "h200-mlp"

// LoadProfile reads a profile from a JSON file, or a built-in one by name
// (DefaultProfile when nameOrPath is empty).
func LoadProfile(nameOrPath string) (*Profile, error) {
	if nameOrPath == "" {
		nameOrPath = DefaultProfile
	}
	data, err := profileFS.ReadFile("profiles/" + nameOrPath + ".json")
	if err != nil {
		data, err = os.ReadFile(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("device profile %q: not a built-in profile (h200-mlp) and not a readable file: %w", nameOrPath, err)
		}
	}
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("device profile %s: %w", nameOrPath, err)
	}
	if len(p.Points) == 0 {
		return nil, fmt.Errorf("device profile %s: no points", nameOrPath)
	}
	for i, pt := range p.Points {
		if pt.Batch <= 0 || pt.P50US <= 0 {
			return nil, fmt.Errorf("device profile %s: points[%d]: batch and p50_us must be positive", nameOrPath, i)
		}
	}
	sort.Slice(p.Points, func(i, j int) bool { return p.Points[i].Batch < p.Points[j].Batch })
	return &p, nil
}

// ServiceTime interpolates the profile linearly in batch size, and
// extrapolates linearly from the last two points above the largest batch.
func (p *Profile) ServiceTime(batch int) time.Duration {
	pts := p.Points
	us := pts[0].P50US
	switch {
	case batch <= pts[0].Batch:
	case batch >= pts[len(pts)-1].Batch:
		last := pts[len(pts)-1]
		us = last.P50US
		if len(pts) > 1 {
			prev := pts[len(pts)-2]
			slope := (last.P50US - prev.P50US) / float64(last.Batch-prev.Batch)
			us += slope * float64(batch-last.Batch)
		}
	default:
		i := sort.Search(len(pts), func(i int) bool { return pts[i].Batch >= batch })
		a, b := pts[i-1], pts[i]
		f := float64(batch-a.Batch) / float64(b.Batch-a.Batch)
		us = a.P50US + f*(b.P50US-a.P50US)
	}
	return time.Duration(us * float64(time.Microsecond))
}

// device is an emulated GPU. It runs one call at a time, as a GPU runs one
// small kernel sequence at a time from the host's view: instances placed on
// the same device share its capacity rather than multiply it. A call holds
// the device for the profile's service time (or the real CPU compute time
// when that is longer, or when the model has no profile).
type device struct {
	index    int
	uuid     string
	profiles map[string]*Profile

	mu     sync.Mutex
	took   hist.Histogram // call durations since the last ResetDeviceCalls; guarded by mu
	busyNS atomic.Int64
	calls  atomic.Int64
	util   atomic.Uint64 // float64 bits: utilization over the last interval, 0..1
}

func (d *device) run(ctx context.Context, model string, rows int, f func() error) error {
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
func (s *Server) devicesFor(model string, g *pb.ModelInstanceGroup) ([]*device, error) {
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
	var out []*device
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

func deviceUUID(i int) string { return fmt.Sprintf("GPU-emulated-%d", i) }
