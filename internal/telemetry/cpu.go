package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/iaasbench/iaasbench/results"
)

// HostCPU samples the whole machine's CPU utilization from /proc/stat.
type HostCPU struct {
	interval time.Duration
	path     string // /proc/stat; tests point it elsewhere
	loop     loop
	prev     cpuTimes
	havePrev bool
	series   seriesSet
	notes    noteSet
	util     gauge
}

// cpuTimes are the aggregate jiffies of /proc/stat's "cpu" line.
type cpuTimes struct {
	busy, total uint64
}

// NewHostCPU returns a host CPU sampler; interval ≤ 0 means
// DefaultInterval.
func NewHostCPU(interval time.Duration) *HostCPU {
	return &HostCPU{interval: interval, path: "/proc/stat"}
}

// Name implements Sampler.
func (s *HostCPU) Name() string { return "host-cpu" }

// Current implements Sampler.
func (s *HostCPU) Current() Utilization {
	v, ok := s.util.get()
	return Utilization{CPUPct: v, CPU: ok}
}

// Start implements Sampler. Off Linux it records a note and samples
// nothing.
func (s *HostCPU) Start(ctx context.Context, t0 time.Time) {
	if runtime.GOOS != "linux" {
		s.notes.add("host CPU telemetry reads /proc/stat (Linux only); skipped on %s", runtime.GOOS)
		return
	}
	if s.loop.done != nil {
		s.notes.add("host CPU sampler started twice; second start ignored")
		return
	}
	s.loop.start(ctx, t0, s.interval, s.sample)
}

// Stop implements Sampler.
func (s *HostCPU) Stop() ([]results.Series, []string) {
	s.loop.stop()
	return s.series.list(), s.notes.list()
}

// sample records the utilization since the previous sample; the first
// sample only sets the baseline.
func (s *HostCPU) sample(_ context.Context, t float64) {
	data, err := os.ReadFile(s.path)
	if err != nil {
		s.notes.add("host CPU: %v", err)
		return
	}
	cur, err := parseProcStat(data)
	if err != nil {
		s.notes.add("host CPU: %s: %v", s.path, err)
		return
	}
	if s.havePrev && cur.total > s.prev.total {
		pct := 100 * float64(cur.busy-s.prev.busy) / float64(cur.total-s.prev.total)
		s.series.add("cpu_util_pct", "%", map[string]string{"source": "host"}, t, pct)
		s.util.set(pct)
	}
	s.prev, s.havePrev = cur, true
}

// parseProcStat reads the aggregate "cpu" line of /proc/stat: user nice
// system idle iowait irq softirq steal [guest guest_nice]. Guest time is
// already counted in user and nice, so it is left out of the total; idle
// and iowait are the idle time.
func parseProcStat(data []byte) (cpuTimes, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "cpu" {
			continue
		}
		if len(fields) < 5 {
			return cpuTimes{}, fmt.Errorf("line %d: %d fields in the cpu line, want at least 4 counters", line, len(fields))
		}
		var t cpuTimes
		for i, f := range fields[1:min(len(fields), 9)] {
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("line %d: field %d: %w", line, i+2, err)
			}
			t.total += v
			if i != 3 && i != 4 { // idle, iowait
				t.busy += v
			}
		}
		return t, nil
	}
	if err := sc.Err(); err != nil {
		return cpuTimes{}, err
	}
	return cpuTimes{}, fmt.Errorf("no aggregate cpu line")
}
