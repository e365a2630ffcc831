package sweep

import (
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// Strategy chooses the next point to measure from what has been measured.
type Strategy interface {
	Name() string
	// Size is the most points the strategy will measure (for progress).
	Size() int
	// Next returns the next point, or ok=false with why it stopped.
	Next(measured []results.Record) (p results.Point, why string, ok bool)
}

// Grid measures every point of the scenario's grid in order.
type Grid struct {
	points []results.Point
	i      int
}

// NewGrid is the full-grid strategy.
func NewGrid(s *scenarios.Scenario) *Grid { return &Grid{points: s.Points()} }

// Name is "grid".
func (g *Grid) Name() string { return scenarios.StrategyGrid }

// Size is the grid's size.
func (g *Grid) Size() int { return len(g.points) }

// Next walks the grid.
func (g *Grid) Next([]results.Record) (results.Point, string, bool) {
	if g.i >= len(g.points) {
		return results.Point{}, "", false
	}
	g.i++
	return g.points[g.i-1], "", true
}
