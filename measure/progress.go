package measure

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/iaasbench/iaasbench/internal/telemetry"
)

// showProgress draws a live bar of completed inferences with the current
// GPU and CPU utilization (the talk's GpuUtilProgress) until the returned
// function is called.
func (c *coordinator) showProgress(w io.Writer) func() {
	total := int64(-1)
	switch {
	case c.o.DataSeconds > 0:
		total = int64(c.o.DataSeconds*c.o.InferenceRate+0.5) * int64(c.p.rows)
	case c.o.Requests > 0:
		total = c.o.Requests * int64(c.p.rows) // after warm-up; warm-up adds some
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(c.o.Model),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("inf"),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
		// No spinner goroutine of the bar's own: it reads the bar's state
		// unsynchronised; our ticker renders often enough.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)
	c.groupCh = make(chan *telemetry.Group, 1)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		var group *telemetry.Group
		for {
			select {
			case <-done:
				_ = bar.Finish()
				return
			case g := <-c.groupCh:
				group = g
			case <-tick.C:
				var n int64
				for _, rec := range c.r.recorders {
					n += rec.done.Load()
				}
				desc := c.o.Model
				if group != nil {
					u := group.Current()
					if u.GPU {
						desc += fmt.Sprintf("  GPU %3.0f%%", u.GPUPct)
					}
					if u.CPU {
						desc += fmt.Sprintf("  CPU %3.0f%%", u.CPUPct)
					}
				}
				bar.Describe(desc)
				_ = bar.Set64(n * int64(c.p.rows))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
