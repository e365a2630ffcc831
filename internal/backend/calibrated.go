package backend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"
)

// CalibratedName is the backend with a known service time: it returns its
// inputs (any data type, input i as output i) after a + b·batch
// microseconds (plus optional jitter), holding its instance all that time.
// Tests and benchmarks check measurements against this known truth.
const CalibratedName = "iaasbench_calibrated"

// Calibrated is a model whose execution time is set by its config.
type Calibrated struct {
	BaseUS, PerItemUS float64
	// Jitter is "", "uniform:W" (±W µs) or "exp:M" (exponential, mean M µs).
	JitterKind string
	JitterUS   float64
	Seed       uint64
}

func newCalibrated(p params) (*Calibrated, error) {
	if err := p.knownKeys("base_us", "per_item_us", "jitter", "seed"); err != nil {
		return nil, err
	}
	// Output i is input i: their data types must agree.
	ins := p.cfg.GetInput()
	for i, out := range p.cfg.GetOutput() {
		if i >= len(ins) {
			return nil, fmt.Errorf("output %q has no input to return (backend %s returns input i as output i; %d inputs)", out.GetName(), CalibratedName, len(ins))
		}
		if out.GetDataType() != ins[i].GetDataType() {
			return nil, fmt.Errorf("output %q has data_type %s but input %q, which it returns, has %s", out.GetName(), out.GetDataType(), ins[i].GetName(), ins[i].GetDataType())
		}
	}
	c := &Calibrated{}
	var err error
	if c.BaseUS, err = p.float("base_us", 1000); err != nil {
		return nil, err
	}
	if c.PerItemUS, err = p.float("per_item_us", 0); err != nil {
		return nil, err
	}
	if c.BaseUS < 0 || c.PerItemUS < 0 {
		return nil, fmt.Errorf("base_us and per_item_us must be >= 0")
	}
	seed, err := p.int("seed", 1)
	if err != nil {
		return nil, err
	}
	c.Seed = uint64(seed)
	if j := p.str("jitter", ""); j != "" {
		kind, val, ok := strings.Cut(j, ":")
		if !ok || (kind != "uniform" && kind != "exp") {
			return nil, fmt.Errorf("parameter jitter: %q, want uniform:W or exp:M (microseconds)", j)
		}
		var w float64
		if _, err := fmt.Sscanf(val, "%g", &w); err != nil || w < 0 {
			return nil, fmt.Errorf("parameter jitter: %q is not a non-negative number", val)
		}
		c.JitterKind, c.JitterUS = kind, w
	}
	return c, nil
}

// ServiceTime is the nominal (jitter-free) execution time of a batch.
func (c *Calibrated) ServiceTime(rows int) time.Duration {
	return time.Duration((c.BaseUS + c.PerItemUS*float64(rows)) * float64(time.Microsecond))
}

// NewState: the calibrated model is stateless.
func (c *Calibrated) NewState() any { return nil }

// NewInstance returns an instance with its own jitter source.
func (c *Calibrated) NewInstance() (Instance, error) {
	return &calibratedInstance{c: c, rng: rand.New(rand.NewPCG(c.Seed, uint64(time.Now().UnixNano())))}, nil
}

type calibratedInstance struct {
	c   *Calibrated
	rng *rand.Rand
}

func (in *calibratedInstance) Execute(ctx context.Context, b *Batch) error {
	d := in.c.ServiceTime(b.Rows)
	switch in.c.JitterKind {
	case "uniform":
		d += time.Duration((in.rng.Float64()*2 - 1) * in.c.JitterUS * float64(time.Microsecond))
	case "exp":
		d += time.Duration(in.rng.ExpFloat64() * in.c.JitterUS * float64(time.Microsecond))
	}
	if err := Busy(ctx, d); err != nil {
		return err
	}
	// Identity, any data type: the input buffers are the requests' own.
	b.Outputs = append(b.Outputs[:0], b.Inputs...)
	return nil
}

// SpinMargin is the last stretch of a wait that Busy spins rather than
// sleeps (on Linux): a sleeping thread on this VM wakes tens of
// microseconds late, a spinning one on time, as a CUDA host thread
// spin-waits on its stream. Tried here: sleeping closer to the deadline
// lowered p99 at 2+ clients but let the cores idle between calls, and
// each wake-up then cost ~50 µs, cutting one-client throughput by a
// third. A wait of at most SpinMargin + SpinSlack is spun whole.
const (
	SpinMargin = 100 * time.Microsecond
	SpinSlack  = 20 * time.Microsecond
)

// Busy occupies the caller for d, precisely: the calibrated model and the
// emulated GPUs promise their service times. Go's timers wake up to a
// millisecond late (a 125 µs sleep takes ~1.1 ms on Linux), so the bulk of
// a long wait uses a timer (which ctx can cut short) and the last stretch
// uses preciseSleep, then a short cooperative spin that now and then
// yields the core to other threads (see yieldCPU).
func Busy(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	deadline := time.Now().Add(d)
	const timerSlack = 2 * time.Millisecond
	if d > 2*timerSlack {
		t := time.NewTimer(d - timerSlack)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	preciseSleep(deadline)
	for spins := 0; time.Now().Before(deadline); spins++ {
		if spins%16 == 15 {
			yieldCPU()
		} else {
			runtime.Gosched()
		}
	}
	return ctx.Err()
}
