// Package stats holds the few summary statistics that several packages
// take of plain float64 samples (medians of trials, distances between
// grid points), so that each is defined, and tested, once.
package stats

import (
	"math"
	"slices"
)

// Median returns the median of xs: the middle value, or the mean of the
// two middle values for an even count; NaN when xs is empty. xs is not
// modified. Two equal middle values are returned as they are, so that a
// pair of infinities stays infinite rather than turning into NaN.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	a, b := s[n/2-1], s[n/2]
	if a == b {
		return a
	}
	return (a + b) / 2
}

// Distance returns the Euclidean distance between a and b, which must
// have the same length.
func Distance(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}
