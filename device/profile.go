// Package device holds device profiles: the measured service time of one
// call of a model on an accelerator as a function of batch size. The
// embedded server's emulated GPUs and the simulator both draw from them.
package device

import (
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

//go:embed profiles/*.json
var profileFS embed.FS

// Profile is a device profile: the service time of one call of a model on
// an accelerator as a function of batch size, measured on real hardware
// (or entered from published figures, with their source).
type Profile struct {
	Device   string `json:"device"`
	Model    string `json:"model"`
	What     string `json:"what,omitempty"`
	Measured string `json:"measured,omitempty"`
	// Memory is the device memory the model occupies, where known.
	Memory *Memory        `json:"memory,omitempty"`
	Points []ProfilePoint `json:"points"`
}

// Memory is the device memory a model occupies, as an emulated GPU
// reports it (nv_gpu_memory_used_bytes): what was in use before the model
// was loaded (IdleMiB), with one copy of it loaded (LoadedMiB: the
// process's CUDA context, libraries' workspaces and allocator pools, and
// the weights), and what each further instance adds. Source says where
// each number comes from: measured or computed.
type Memory struct {
	IdleMiB          float64 `json:"idle_mib"`
	LoadedMiB        float64 `json:"loaded_mib"`
	PerInstanceBytes float64 `json:"per_instance_bytes"`
	// TotalMiB is the device's memory, 0 when the profile does not say.
	TotalMiB float64 `json:"total_mib,omitempty"`
	Source   string  `json:"source"`
}

// UsedBytes is the device memory in use with n instances of the model
// placed on the device (IdleMiB when n is 0).
func (m *Memory) UsedBytes(n int) float64 {
	if n <= 0 {
		return m.IdleMiB * (1 << 20)
	}
	return m.LoadedMiB*(1<<20) + float64(n-1)*m.PerInstanceBytes
}

// ProfilePoint is the median service time of a call at one batch size.
type ProfilePoint struct {
	Batch int     `json:"batch"`
	P50US float64 `json:"p50_us"`
}

// Default is the built-in profile used when none is named: the
// talk's MLP measured on an H200 with PyTorch 2.11 eager.
const Default = "h200-mlp"

// Load reads a profile from a JSON file, or a built-in one by name
// (Default when nameOrPath is empty).
func Load(nameOrPath string) (*Profile, error) {
	if nameOrPath == "" {
		nameOrPath = Default
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
	if m := p.Memory; m != nil {
		if m.IdleMiB < 0 || m.LoadedMiB < m.IdleMiB || m.PerInstanceBytes < 0 || m.TotalMiB < 0 || (m.TotalMiB > 0 && m.TotalMiB < m.LoadedMiB) {
			return nil, fmt.Errorf("device profile %s: memory: want 0 <= idle_mib <= loaded_mib (<= total_mib when given) and per_instance_bytes >= 0", nameOrPath)
		}
		if m.Source == "" {
			return nil, fmt.Errorf("device profile %s: memory: say where the figures come from (source)", nameOrPath)
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
