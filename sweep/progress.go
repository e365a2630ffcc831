package sweep

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/results"
)

// progress is a sweep's line on a terminal: the trials done of those
// planned with the elapsed time and an estimate of what is left, and the
// point in flight with how long it has run. measure's own bar is off in a
// sweep (MeasureWith passes no writer) so that nothing overwrites it; a
// ticker redraws the line while a point runs. The zero value (no
// terminal) does nothing.
type progress struct {
	b    *progressbar.ProgressBar
	name string
	dims []string // the dimensions that tell the points apart

	mu      sync.Mutex
	status  pointStatus
	started time.Time

	stop, stopped chan struct{}
}

// pointStatus is what the line says about the point in flight.
type pointStatus struct {
	K, N           int    // point k of n (n: the most the strategy may choose)
	Label          string // its varied coordinates
	Side           string // the side of an interleaved run, if any
	Trial, Trials  int
	Attempt, Tries int
	Phase          string // the measurement's phase (measure.Phase), once it says
}

// newProgress draws on w (nil: nothing) a line over total trials of the
// sweep called name whose points differ in dims.
func newProgress(w io.Writer, total int, name string, dims []string) *progress {
	if w == nil || total <= 0 {
		return &progress{}
	}
	p := &progress{name: name, dims: dims, stop: make(chan struct{}), stopped: make(chan struct{})}
	p.b = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(describe(name, pointStatus{}, 0)),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(20),
	)
	go p.tick()
	return p
}

// tick redraws the line every half second: the point's own time moves on
// while no trial completes.
func (p *progress) tick() {
	defer close(p.stopped)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.redraw()
		}
	}
}

func (p *progress) redraw() {
	p.mu.Lock()
	d := describe(p.name, p.status, time.Since(p.started))
	p.mu.Unlock()
	p.b.Describe(d)
}

// point says that st's point is now being measured.
func (p *progress) point(st pointStatus, pt results.Point) {
	if p.b == nil {
		return
	}
	st.Label = pointLabel(pt, p.dims)
	p.mu.Lock()
	p.status, p.started = st, time.Now()
	p.mu.Unlock()
	p.redraw()
}

// phase says where the point's measurement is (warm-up, window k).
func (p *progress) phase(ph measure.Phase) {
	if p.b == nil {
		return
	}
	p.mu.Lock()
	p.status.Phase = ph.String()
	p.mu.Unlock()
	p.redraw()
}

// add counts a trial as done, measured or not.
func (p *progress) add() {
	if p.b != nil {
		_ = p.b.Add(1)
	}
}

func (p *progress) finish() {
	if p.b == nil {
		return
	}
	close(p.stop)
	<-p.stopped
	_ = p.b.Finish()
}

// describe is the text before the bar: the sweep, the point in flight
// (k of n, its coordinates, trial and attempt where there are several)
// and how long it has run.
func describe(name string, st pointStatus, inPoint time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sweep %s", name)
	if st.K == 0 {
		b.WriteString(": starting")
		return b.String()
	}
	fmt.Fprintf(&b, ": point %d/%d", st.K, st.N)
	if st.Label != "" {
		fmt.Fprintf(&b, " %s", st.Label)
	}
	var more []string
	if st.Side != "" {
		more = append(more, st.Side)
	}
	if st.Trials > 1 {
		more = append(more, fmt.Sprintf("trial %d/%d", st.Trial+1, st.Trials))
	}
	if st.Attempt > 1 {
		more = append(more, fmt.Sprintf("attempt %d/%d", st.Attempt, st.Tries))
	}
	if st.Phase != "" {
		more = append(more, st.Phase)
	}
	more = append(more, inPoint.Truncate(time.Second).String())
	fmt.Fprintf(&b, " (%s)", strings.Join(more, ", "))
	return b.String()
}

// pointLabel writes a point's coordinates along dims (all of them when
// dims is empty), e.g. "instances=2 clients=8".
func pointLabel(p results.Point, dims []string) string {
	if len(dims) == 0 {
		dims = results.Dimensions
	}
	var parts []string
	for _, d := range dims {
		v, err := p.Coord(d)
		if err != nil {
			continue
		}
		parts = append(parts, d+"="+strconv.FormatFloat(v, 'g', -1, 64))
	}
	return strings.Join(parts, " ")
}
