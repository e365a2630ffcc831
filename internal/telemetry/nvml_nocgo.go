//go:build !cgo

package telemetry

import (
	"context"
	"errors"
	"time"

	"github.com/iaasbench/iaasbench/results"
)

// errNoCgo explains why a binary built without cgo has no GPU telemetry:
// go-nvml loads the driver through cgo.
var errNoCgo = errors.New("built without cgo: NVML unavailable")

// NVML stands in for the NVML sampler in builds without cgo: it samples
// nothing and says why.
type NVML struct{ started bool }

// NewNVML returns the stand-in; interval is ignored.
func NewNVML(interval time.Duration) *NVML { return &NVML{} }

// Name implements Sampler.
func (s *NVML) Name() string { return "nvml" }

// Current implements Sampler: GPU utilization is never known.
func (s *NVML) Current() Utilization { return Utilization{} }

// Info reports that NVML is unavailable.
func (s *NVML) Info() (GPUInfo, error) { return GPUInfo{}, errNoCgo }

// Start implements Sampler.
func (s *NVML) Start(ctx context.Context, t0 time.Time) { s.started = true }

// Stop implements Sampler: no series, one note.
func (s *NVML) Stop() ([]results.Series, []string) {
	if !s.started {
		return nil, nil
	}
	return nil, []string{errNoCgo.Error() + "; GPU telemetry skipped"}
}
