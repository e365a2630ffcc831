package stats

import (
	"math"
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{-1, 7}, 3},
		{[]float64{math.Inf(1), 1, math.Inf(1)}, math.Inf(1)},
		{[]float64{math.Inf(-1), math.Inf(-1)}, math.Inf(-1)}, // not NaN
		{[]float64{math.Inf(-1), math.Inf(1)}, math.NaN()},    // no middle: undefined
	} {
		in := slices.Clone(c.xs)
		got := Median(c.xs)
		if !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("Median(%v) = %v, want %v", in, got, c.want)
		}
		if !slices.Equal(in, c.xs) {
			t.Errorf("Median reordered its input: %v, was %v", c.xs, in)
		}
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}

func TestDistance(t *testing.T) {
	// A 3-4-5 triangle, shifted.
	if got := Distance([]float64{1, 1}, []float64{4, 5}); got != 5 {
		t.Errorf("Distance = %v, want 5", got)
	}
	if got := Distance([]float64{2, -1, 7}, []float64{2, -1, 7}); got != 0 {
		t.Errorf("Distance to itself = %v, want 0", got)
	}
}
