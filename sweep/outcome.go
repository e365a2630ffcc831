package sweep

import (
	"fmt"
	"strings"
)

// Outcome classifies how a sweep ended, so that a pipeline can tell a
// complete sweep from one with holes in it without reading the file.
type Outcome int

const (
	// Complete: every trial the sweep planned has an ok record.
	Complete Outcome = iota
	// Partial: some planned trials have an ok record; others failed
	// every attempt or are incomplete (Summary.Unfinished names them).
	Partial
	// NothingMeasured: no planned trial has an ok record.
	NothingMeasured
	// Interrupted: stopped on request (Options.Stop or a cancelled
	// context) before its plan was done; what it measured is kept.
	Interrupted
)

func (o Outcome) String() string {
	switch o {
	case Complete:
		return "complete"
	case Partial:
		return "partial"
	case NothingMeasured:
		return "nothing measured"
	case Interrupted:
		return "interrupted"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Classify is the outcome of a run that planned some trials and has an ok
// record for ok of them. Simulations and sweeps share it.
func Classify(planned, ok int, interrupted bool) Outcome {
	switch {
	case interrupted:
		return Interrupted
	case ok == 0 && planned > 0:
		return NothingMeasured
	case ok < planned:
		return Partial
	}
	return Complete
}

// Describe says in one line what the outcome means for the file: how many
// trials lack an ok record and where their reasons are.
func (s *Summary) Describe() string {
	switch s.Outcome {
	case Complete:
		return fmt.Sprintf("complete: all %d planned trials have an ok record", s.Planned)
	case Interrupted:
		return fmt.Sprintf("interrupted: %d of %d trials chosen so far have an ok record; run the same command again to resume", s.OK, s.Planned)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d planned trials have no ok record (failed every attempt or incomplete)", s.Outcome, s.Planned-s.OK, s.Planned)
	if len(s.Unfinished) > 0 {
		u := s.Unfinished[0]
		fmt.Fprintf(&b, ", e.g. %s trial %d: %s: %s", u.Point.Key(), u.Trial, u.Status, u.Reason)
	}
	fmt.Fprintf(&b, "; every attempt's reason is in %s (iaasbench results show %s)", s.ResultsPath, s.ResultsPath)
	return b.String()
}
