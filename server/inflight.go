package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// inflight is the server's budget of memory for inference requests in
// flight. A request reserves what it will hold before its body is read:
// the body itself and one decoded copy of its tensors (2 × its length,
// plus a small fixed overhead), and its outputs once it has them. Requests
// that do not fit are refused (unary calls) or wait (streams); see
// admission.go.
//
// After a burst of large requests the budget hands the freed memory back
// to the operating system, so that a server's resident size returns to
// where it was rather than staying at its high-water mark.
type inflight struct {
	limit int64 // bytes; <= 0: no limit (still counted)
	log   *slog.Logger

	used    atomic.Int64
	peak    atomic.Int64 // highest use since memory was last handed back
	refused atomic.Int64 // requests refused for lack of room
	read    atomic.Int64 // request body bytes read (tests: refused requests read none)

	waiters atomic.Int32
	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever memory is released; guarded by mu

	freeing atomic.Bool // a hand-back to the OS is scheduled
}

const (
	// requestOverhead is what a request holds besides its tensors (Go
	// objects, the response): it keeps a flood of tiny requests bounded too.
	requestOverhead = 1 << 10
	// freeAfterPeak: hand memory back to the OS after use peaked at least
	// this high and then fell below a quarter of the peak.
	freeAfterPeak = 64 << 20
	// freeDelay lets a burst finish before memory is handed back (a forced
	// collection costs a stop of the world; once per burst is enough).
	freeDelay = 200 * time.Millisecond
)

func newInflight(limit int64, log *slog.Logger) *inflight {
	return &inflight{limit: limit, log: log, changed: make(chan struct{})}
}

// need is what a request of n bytes on the wire reserves.
func need(n int64) int64 { return 2*n + requestOverhead }

// tryReserve takes n bytes when they fit under the limit.
func (b *inflight) tryReserve(n int64) bool {
	if b.limit <= 0 {
		b.force(n)
		return true
	}
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			b.notePeak(u + n)
			return true
		}
	}
}

// force takes n bytes whatever the limit: for memory already allocated
// (outputs), which new requests must then leave room for.
func (b *inflight) force(n int64) {
	b.notePeak(b.used.Add(n))
}

func (b *inflight) notePeak(u int64) {
	for {
		p := b.peak.Load()
		if u <= p || b.peak.CompareAndSwap(p, u) {
			return
		}
	}
}

// exhausted reports whether not even a tiny request fits now.
func (b *inflight) exhausted() bool {
	return b.limit > 0 && b.used.Load()+requestOverhead > b.limit
}

// wait reserves n bytes, waiting for room until ctx ends. n must fit the
// limit on its own (the caller checks).
func (b *inflight) wait(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		ch := b.changed
		b.mu.Unlock()
		b.waiters.Add(1)
		ok := b.tryReserve(n)
		if ok {
			b.waiters.Add(-1)
			return nil
		}
		select {
		case <-ch:
			b.waiters.Add(-1)
		case <-ctx.Done():
			b.waiters.Add(-1)
			return ctx.Err()
		}
	}
}

// release returns n bytes, wakes waiters, and after a burst schedules
// handing the freed memory back to the OS.
func (b *inflight) release(n int64) {
	u := b.used.Add(-n)
	if b.waiters.Load() > 0 {
		b.mu.Lock()
		close(b.changed)
		b.changed = make(chan struct{})
		b.mu.Unlock()
	}
	if p := b.peak.Load(); p >= freeAfterPeak && u < p/4 && b.freeing.CompareAndSwap(false, true) {
		time.AfterFunc(freeDelay, b.handBack)
	}
}

// handBack returns freed memory to the OS unless a new burst has begun.
func (b *inflight) handBack() {
	defer b.freeing.Store(false)
	u, p := b.used.Load(), b.peak.Load()
	if u >= p/4 {
		return // busy again: the next drop schedules it
	}
	start := time.Now()
	// Two collections: buffers that pools (grpc-go's among them) kept
	// survive one in sync.Pool's victim cache.
	goruntime.GC()
	debug.FreeOSMemory()
	b.peak.Store(b.used.Load())
	b.log.Debug("memory handed back to the OS after a burst", "peak_bytes", p, "took", time.Since(start))
}

// tooLarge counts a request refused because it could never fit, and says so.
func (b *inflight) tooLarge(length int64) string {
	b.refused.Add(1)
	return fmt.Sprintf("a request of %s needs %s in memory while in flight, more than the server's whole limit of %s (--max-inflight-bytes); send smaller requests or raise the limit",
		FormatBytes(length), FormatBytes(need(length)), FormatBytes(b.limit))
}

// full counts a request refused because the budget is taken now, and says so.
func (b *inflight) full(length int64) string {
	b.refused.Add(1)
	return fmt.Sprintf("the server holds %s of inference requests in flight; this request (%s) would pass the limit of %s (--max-inflight-bytes); retry later",
		FormatBytes(b.used.Load()), FormatBytes(length), FormatBytes(b.limit))
}

// writeMetrics writes the budget's state as Prometheus metrics (iaasbench
// extensions; Triton has no such limit).
func (b *inflight) writeMetrics(w io.Writer) {
	limit := b.limit
	if limit < 0 {
		limit = 0
	}
	fmt.Fprintf(w, "# HELP iaasbench_inflight_bytes Memory held by inference requests in flight, as the server accounts it (bodies, decoded tensors, outputs)\n# TYPE iaasbench_inflight_bytes gauge\niaasbench_inflight_bytes %d\n", b.used.Load())
	fmt.Fprintf(w, "# HELP iaasbench_inflight_limit_bytes The limit of iaasbench_inflight_bytes (--max-inflight-bytes; 0: none)\n# TYPE iaasbench_inflight_limit_bytes gauge\niaasbench_inflight_limit_bytes %d\n", limit)
	fmt.Fprintf(w, "# HELP iaasbench_inflight_refused_total Inference requests refused with RESOURCE_EXHAUSTED for lack of room\n# TYPE iaasbench_inflight_refused_total counter\niaasbench_inflight_refused_total %d\n", b.refused.Load())
}

// DefaultMaxInflightBytes is the default budget of bytes of inference
// requests in flight: a sixteenth of the memory this process may use (the
// machine's, or its cgroup's limit when lower), at least 64 MiB. The
// factor leaves room for the process's own heap, the garbage a burst
// leaves until the next collection, and everything else on the machine.
func DefaultMaxInflightBytes() int64 {
	mem := availableMemory()
	if mem <= 0 {
		return 1 << 30 // unknown: a gigabyte
	}
	return max(mem/16, 64<<20)
}

// MemoryLimitFor is a soft memory limit for a process that serves with
// the given in-flight budget (runtime/debug.SetMemoryLimit): the budget,
// a quarter more for the garbage of finished requests, and 256 MiB for the
// server itself. Near it the collector runs more often instead of letting
// the heap double, which is what keeps a burst's peak near the budget.
func MemoryLimitFor(maxInflight int64) int64 {
	return maxInflight + maxInflight/4 + 256<<20
}

// availableMemory is the smallest of the machine's memory and the memory
// limits of this process's cgroup (v2, then v1); 0 when unknown.
func availableMemory() int64 {
	var best int64
	take := func(v int64) {
		if v > 0 && (best == 0 || v < best) {
			best = v
		}
	}
	take(memTotal("/proc/meminfo"))
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if v, err := strconv.ParseInt(s, 10, 64); err == nil && v < math.MaxInt64/2 {
			take(v) // "max" and v1's huge "no limit" are not limits
		}
	}
	return best
}

// memTotal reads MemTotal from a meminfo file; 0 when unreadable.
func memTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// FormatBytes writes a size in binary units: 512 B, 1.5 KiB, 250 MiB, 1.47 GiB.
func FormatBytes(n int64) string {
	const unit = 1 << 10
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for math.Abs(v) >= unit && i < 4 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + " " + string("KMGTP"[i]) + "iB"
}

// ParseBytes reads a size: a plain number of bytes, or one with a unit
// (B, KB, MB, GB, TB in powers of 1000; KiB, MiB, GiB, TiB in powers of
// 1024; case-insensitive; a space between is allowed), e.g. "1.5GiB".
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with a unit (e.g. 512MiB, 2GB)", s)
	}
	mult := map[string]float64{"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, t[i:])
	}
	v *= mult
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(v), nil
}
