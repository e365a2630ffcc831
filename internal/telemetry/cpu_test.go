package telemetry

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	data := []byte("cpu  100 5 50 800 40 3 2 0 7 1\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 12345\n")
	got, err := parseProcStat(data)
	if err != nil {
		t.Fatal(err)
	}
	// busy = user+nice+system+irq+softirq+steal; guest is inside user.
	if want := (cpuTimes{busy: 160, total: 1000}); got != want {
		t.Errorf("parseProcStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"cpu0 1 2 3 4\n", "cpu 1 x 3 4\n", "cpu 1 2\n"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) accepted bad input", bad)
		}
	}
}

func TestHostCPUFromStatFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("HostCPU samples on Linux only")
	}
	path := filepath.Join(t.TempDir(), "stat")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := NewHostCPU(time.Hour)
	s.path = path
	write("cpu 100 0 100 800 0 0 0 0\n")
	s.sample(context.Background(), 0)
	if u := s.Current(); u.CPU {
		t.Fatal("a baseline sample alone should not give a utilization")
	}
	write("cpu 150 0 100 850 0 0 0 0\n") // 50 busy of 100
	s.sample(context.Background(), 0.1)
	write("cpu 225 0 100 875 0 0 0 0\n") // 75 busy of 100
	s.sample(context.Background(), 0.2)
	if u := s.Current(); !u.CPU || u.CPUPct != 75 {
		t.Errorf("Current() = %+v, want 75%%", u)
	}
	series, notes := s.Stop()
	if len(notes) != 0 || len(series) != 1 {
		t.Fatalf("series %v notes %v", series, notes)
	}
	got := series[0]
	if got.Name != "cpu_util_pct" || got.Labels["source"] != "host" || len(got.V) != 2 || got.V[0] != 50 || got.V[1] != 75 || got.T[1] != 0.2 {
		t.Errorf("series %+v, want cpu_util_pct [50 75] at [0.1 0.2]", got)
	}
}

func TestHostCPUMissingFileIsANote(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("HostCPU samples on Linux only")
	}
	s := NewHostCPU(time.Millisecond)
	s.path = filepath.Join(t.TempDir(), "absent")
	s.Start(context.Background(), time.Now())
	time.Sleep(10 * time.Millisecond)
	series, notes := s.Stop()
	if len(series) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "absent") {
		t.Errorf("series %v notes %q, want one note naming the file", series, notes)
	}
}

func TestHostCPUReal(t *testing.T) {
	if runtime.GOOS != "linux" {
		s := NewHostCPU(0)
		s.Start(context.Background(), time.Now())
		if _, notes := s.Stop(); len(notes) != 1 {
			t.Fatalf("off Linux want one note, got %q", notes)
		}
		return
	}
	s := NewHostCPU(5 * time.Millisecond)
	s.Start(context.Background(), time.Now())
	waitFor(t, func() bool { return s.Current().CPU })
	series, notes := s.Stop()
	if len(notes) != 0 || len(series) != 1 || len(series[0].V) == 0 {
		t.Fatalf("series %v notes %v", series, notes)
	}
	for _, v := range series[0].V {
		if v < 0 || v > 100 {
			t.Errorf("cpu_util_pct %g outside [0, 100]", v)
		}
	}
}
