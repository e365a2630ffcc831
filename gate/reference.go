package gate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/results"
)

// selector picks the reference point of a run. Its text is a
// comma-separated list of field=value: "scenario", "model" (the
// measurement's model name) and any of results.Dimensions, so that a full
// results.Point.Key() is itself a selector.
type selector struct {
	text     string
	scenario *string
	model    *string
	coords   map[string]float64
}

func parseSelector(s string) (selector, error) {
	sel := selector{text: s, coords: map[string]float64{}}
	if strings.TrimSpace(s) == "" {
		return sel, fmt.Errorf("reference: empty selector")
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" {
			return sel, fmt.Errorf("reference %q: %q is not field=value (fields: scenario, model, %s)",
				s, part, strings.Join(results.Dimensions, ", "))
		}
		switch {
		case k == "scenario":
			sel.scenario = &v
		case k == "model":
			sel.model = &v
		case slices.Contains(results.Dimensions, k):
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return sel, fmt.Errorf("reference %q: %s=%q is not a number", s, k, v)
			}
			sel.coords[k] = f
		default:
			return sel, fmt.Errorf("reference %q: unknown field %q (fields: scenario, model, %s)",
				s, k, strings.Join(results.Dimensions, ", "))
		}
	}
	return sel, nil
}

func (sel selector) match(rec results.Record) bool {
	if sel.scenario != nil && rec.Scenario != *sel.scenario {
		return false
	}
	if sel.model != nil && (rec.Measurement == nil || rec.Measurement.Model != *sel.model) {
		return false
	}
	for dim, want := range sel.coords {
		got, err := rec.Point.Coord(dim)
		if err != nil || got != want {
			return false
		}
	}
	return true
}

// find returns the one point of sd that the selector picks for points of
// scenario: a match within the same scenario first, else the only match
// anywhere in the run (so a calibration scenario can serve every
// scenario of the file).
func (sel selector) find(sd *side, scenario string) (pointID, error) {
	var same, anywhere []pointID
	for _, id := range sd.order {
		ok := false
		for _, rec := range sd.trials[id] {
			if sel.match(rec) {
				ok = true
				break
			}
		}
		if !ok {
			continue
		}
		anywhere = append(anywhere, id)
		if id.scenario == scenario {
			same = append(same, id)
		}
	}
	pick := same
	if len(pick) == 0 {
		pick = anywhere
	}
	switch len(pick) {
	case 0:
		return pointID{}, fmt.Errorf("%s: no ok point matches reference %q", sd.name, sel.text)
	case 1:
		return pick[0], nil
	}
	names := make([]string, 0, len(pick))
	for _, id := range pick {
		names = append(names, id.String())
	}
	return pointID{}, fmt.Errorf("%s: reference %q matches %d points (%s); add fields to pick one",
		sd.name, sel.text, len(pick), strings.Join(names, "; "))
}
