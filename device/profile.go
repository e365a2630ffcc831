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
