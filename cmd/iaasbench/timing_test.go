//go:build timing

// Checks of measured time, for a machine doing nothing else (make
// test-timing); each tolerance is argued beside it.

package main

import (
	"math"
	"testing"
)

// The profile derived from measuring the calibrated model recovers its
// service time, 1 ms + 50 us per item.
func TestTimingProfileRecoversAKnownServiceTime(t *testing.T) {
	p := profileCalibrated(t)
	if len(p.Points) != 3 {
		t.Fatalf("points: %+v", p.Points)
	}
	for i, pt := range p.Points {
		want := 1000 + 50*float64(pt.Batch)
		// The profile is the server's mean compute time per call; idle,
		// a call overshoots its sleep by ~0.05-0.1 ms, at most 10% of the
		// shortest (1.05 ms). 1.5× is what only a machine busy elsewhere
		// reaches.
		if pt.P50US > 1.5*want {
			t.Errorf("batch %d: profiled %.0f us, the model takes %.0f us", pt.Batch, pt.P50US, want)
		}
		if i > 0 && pt.P50US <= p.Points[i-1].P50US {
			t.Errorf("profile does not grow with the batch: %+v", p.Points)
		}
	}
	// The overshoot is about the same at every batch, so it cancels in
	// the slope: ±15 us per item is ±0.47 ms of difference over the 31
	// items between batch 1 and 32, several overshoots.
	if slope := (p.Points[2].P50US - p.Points[0].P50US) / 31; math.Abs(slope-50) > 15 {
		t.Errorf("profiled %.1f us per item, the model takes 50 (%+v)", slope, p.Points)
	}
}
