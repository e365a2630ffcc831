//go:build cgo

package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/iaasbench/iaasbench/results"
)

// NVMLLib is the part of NVML the sampler uses. nvml.Interface (the real
// library, nvml.New()) and go-nvml's mock.Interface satisfy it.
type NVMLLib interface {
	Init() nvml.Return
	Shutdown() nvml.Return
	DeviceGetCount() (int, nvml.Return)
	DeviceGetHandleByIndex(int) (nvml.Device, nvml.Return)
	SystemGetDriverVersion() (string, nvml.Return)
	SystemGetNVMLVersion() (string, nvml.Return)
}

// NVML samples every GPU through NVML: utilization, memory and power.
type NVML struct {
	lib      NVMLLib
	interval time.Duration
	loop     loop
	inited   bool
	devices  []nvmlDevice
	series   seriesSet
	notes    noteSet
	util     gauge
}

type nvmlDevice struct {
	index  int
	dev    nvml.Device
	labels map[string]string
	// skip names the reads the device does not support, so that a sample
	// does not pay for them again.
	skip map[string]bool
}

// NewNVML returns a sampler of the machine's NVIDIA driver; interval ≤ 0
// means DefaultInterval.
func NewNVML(interval time.Duration) *NVML { return NewNVMLWithLib(nvml.New(), interval) }

// NewNVMLWithLib returns a sampler reading lib, e.g. go-nvml's mock.
func NewNVMLWithLib(lib NVMLLib, interval time.Duration) *NVML {
	return &NVML{lib: lib, interval: interval}
}

// Name implements Sampler.
func (s *NVML) Name() string { return "nvml" }

// Current implements Sampler: the mean utilization of the GPUs at the
// latest sample.
func (s *NVML) Current() Utilization {
	v, ok := s.util.get()
	return Utilization{GPUPct: v, GPU: ok}
}

// initError explains a failed nvml.Init in the words a user needs.
func initError(ret nvml.Return) error {
	if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
		return fmt.Errorf("NVML unavailable: no NVIDIA driver found (nvml.Init: %v)", ret)
	}
	return fmt.Errorf("NVML unavailable: nvml.Init: %v", ret)
}

// Info returns the driver version and the GPUs NVML sees.
func (s *NVML) Info() (GPUInfo, error) {
	if ret := s.lib.Init(); ret != nvml.SUCCESS {
		return GPUInfo{}, initError(ret)
	}
	defer s.lib.Shutdown()
	var info GPUInfo
	var errs []error
	var ret nvml.Return
	if info.Driver, ret = s.lib.SystemGetDriverVersion(); ret != nvml.SUCCESS {
		errs = append(errs, fmt.Errorf("driver version: %v", ret))
	}
	if info.NVMLVersion, ret = s.lib.SystemGetNVMLVersion(); ret != nvml.SUCCESS {
		errs = append(errs, fmt.Errorf("NVML version: %v", ret))
	}
	devs, err := s.openDevices()
	errs = append(errs, err)
	for _, d := range devs {
		info.GPUs = append(info.GPUs, GPU{Index: d.index, UUID: d.labels["uuid"], Name: d.labels["name"]})
	}
	if err := errors.Join(errs...); err != nil {
		return info, fmt.Errorf("NVML info: %w", err)
	}
	return info, nil
}

// openDevices gets a handle, UUID and name for every GPU. A device that
// cannot be opened is left out and reported in the error.
func (s *NVML) openDevices() ([]nvmlDevice, error) {
	n, ret := s.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("device count: %v", ret)
	}
	var devs []nvmlDevice
	var errs []error
	for i := range n {
		dev, ret := s.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			errs = append(errs, fmt.Errorf("gpu %d: handle: %v", i, ret))
			continue
		}
		uuid, ret := dev.GetUUID()
		if ret != nvml.SUCCESS {
			errs = append(errs, fmt.Errorf("gpu %d: UUID: %v", i, ret))
		}
		name, ret := dev.GetName()
		if ret != nvml.SUCCESS {
			errs = append(errs, fmt.Errorf("gpu %d: name: %v", i, ret))
		}
		devs = append(devs, nvmlDevice{
			index:  i,
			dev:    dev,
			labels: map[string]string{"gpu": strconv.Itoa(i), "uuid": uuid, "name": name, "source": "nvml"},
			skip:   map[string]bool{},
		})
	}
	return devs, errors.Join(errs...)
}

// open initialises NVML and finds the devices; false means there is
// nothing to sample and a note says why.
func (s *NVML) open() bool {
	if ret := s.lib.Init(); ret != nvml.SUCCESS {
		s.notes.add("%v; GPU telemetry skipped", initError(ret))
		return false
	}
	s.inited = true
	devs, err := s.openDevices()
	if err != nil {
		s.notes.add("NVML: %v", err)
	}
	s.devices = devs
	if len(devs) == 0 {
		s.notes.add("NVML: no GPU found; GPU telemetry skipped")
		return false
	}
	return true
}

// Start implements Sampler. Where NVML cannot be initialised, it records
// one note and samples nothing.
func (s *NVML) Start(ctx context.Context, t0 time.Time) {
	if s.inited || s.loop.done != nil {
		s.notes.add("NVML sampler started twice; second start ignored")
		return
	}
	if s.open() {
		s.loop.start(ctx, t0, s.interval, s.sample)
	}
}

// Stop implements Sampler.
func (s *NVML) Stop() ([]results.Series, []string) {
	s.loop.stop()
	if s.inited {
		if ret := s.lib.Shutdown(); ret != nvml.SUCCESS {
			s.notes.add("NVML shutdown: %v", ret)
		}
		s.inited = false
	}
	return s.series.list(), s.notes.list()
}

// sample reads every device once. A failing read is noted and skipped;
// the other reads and devices go on.
func (s *NVML) sample(_ context.Context, t float64) {
	var utilSum float64
	var utilN int
	for i := range s.devices {
		d := &s.devices[i]
		add := func(name, unit string, v float64) { s.series.add(name, unit, d.labels, t, v) }
		s.read(d, "GetUtilizationRates", func() nvml.Return {
			u, ret := d.dev.GetUtilizationRates()
			if ret == nvml.SUCCESS {
				add("gpu_util_pct", "%", float64(u.Gpu))
				add("gpu_mem_util_pct", "%", float64(u.Memory))
				utilSum += float64(u.Gpu)
				utilN++
			}
			return ret
		})
		s.read(d, "GetMemoryInfo", func() nvml.Return {
			m, ret := d.dev.GetMemoryInfo()
			if ret == nvml.SUCCESS {
				add("gpu_mem_used_mib", "MiB", float64(m.Used)/(1<<20))
				add("gpu_mem_total_mib", "MiB", float64(m.Total)/(1<<20))
			}
			return ret
		})
		s.read(d, "GetPowerUsage", func() nvml.Return {
			mw, ret := d.dev.GetPowerUsage()
			if ret == nvml.SUCCESS {
				add("gpu_power_w", "W", float64(mw)/1e3)
			}
			return ret
		})
		s.read(d, "GetTotalEnergyConsumption", func() nvml.Return {
			mj, ret := d.dev.GetTotalEnergyConsumption()
			if ret == nvml.SUCCESS {
				add("gpu_energy_j", "J", float64(mj)/1e3)
			}
			return ret
		})
	}
	if utilN > 0 {
		s.util.set(utilSum / float64(utilN))
	}
}

// read runs one NVML read of device d, noting a failure. A read the device
// does not support is not tried again.
func (s *NVML) read(d *nvmlDevice, call string, f func() nvml.Return) {
	if d.skip[call] {
		return
	}
	switch ret := f(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_NOT_SUPPORTED:
		d.skip[call] = true
		s.notes.add("NVML gpu %d: %s: %v; not sampled", d.index, call, ret)
	default:
		s.notes.add("NVML gpu %d: %s failed: %v", d.index, call, ret)
	}
}
