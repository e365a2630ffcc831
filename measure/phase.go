package measure

import (
	"context"
	"fmt"
)

// Phase is where a measurement is: warming up, or in window Window (of at
// most MaxWindows when the stability criterion decides; 0 when the
// measurement has a fixed length).
type Phase struct {
	Warmup     bool
	Window     int
	MaxWindows int
}

// String is the phase as a progress line says it: "warm-up",
// "window 3/10" or "window 3".
func (p Phase) String() string {
	switch {
	case p.Warmup:
		return "warm-up"
	case p.MaxWindows > 0:
		return fmt.Sprintf("window %d/%d", p.Window, p.MaxWindows)
	}
	return fmt.Sprintf("window %d", p.Window)
}

type phaseKey struct{}

// WithPhases returns a context under which Run tells f each phase it
// enters, e.g. for a sweep's progress line. It travels in the context,
// not in Options, because the caller that draws the line is not the one
// that builds the options (a sweep's measurer).
func WithPhases(ctx context.Context, f func(Phase)) context.Context {
	return context.WithValue(ctx, phaseKey{}, f)
}

// PhasesOf is the context's phase function (WithPhases), or one that
// does nothing: what a measurer calls to say where it is.
func PhasesOf(ctx context.Context) func(Phase) {
	if f, ok := ctx.Value(phaseKey{}).(func(Phase)); ok && f != nil {
		return f
	}
	return func(Phase) {}
}
