package cost

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/internal/stats"
)

// Constraint is one hard limit on a figure, e.g. "p99 <= 50ms".
type Constraint struct {
	Text   string  // as written
	Figure string  // one of FigureNames
	Op     string  // <=, <, >=, >
	Value  float64 // in the figure's units: ms, per second, percent, USD
}

// ParseConstraint parses "FIGURE OP VALUE[UNIT]". Units: latencies take
// us, µs, ms (the default) or s; rates take /s (the default), /min or /h;
// utilisations take an optional % and are always percent (50 means 50%);
// USD figures take an optional leading $.
//
//	p99 <= 50ms    throughput >= 20000/s    data_rate >= 1
//	usd_per_hour <= 10    gpu_util >= 50%
func ParseConstraint(s string) (Constraint, error) {
	c, err := parseConstraint(s)
	if err != nil {
		return Constraint{}, fmt.Errorf("constraint %q: %w", s, err)
	}
	return c, nil
}

func parseConstraint(s string) (Constraint, error) {
	i := strings.IndexAny(s, "<>=!")
	if i < 0 {
		return Constraint{}, errors.New("no comparison operator (want <=, <, >=, >)")
	}
	op := s[i : i+1]
	if i+1 < len(s) && s[i+1] == '=' {
		op = s[i : i+2]
	}
	switch op {
	case "<=", "<", ">=", ">":
	default:
		return Constraint{}, fmt.Errorf("operator %q is not supported (want <=, <, >=, >)", op)
	}
	fig := strings.TrimSpace(s[:i])
	val := strings.TrimSpace(s[i+len(op):])
	if fig == "" {
		return Constraint{}, errors.New("no figure before the operator")
	}
	canon, ok := CanonicalFigure(fig)
	if !ok {
		return Constraint{}, unknownFigure(fig)
	}
	fig = canon
	info := figureTable[fig]
	if val == "" {
		return Constraint{}, errors.New("no value after the operator")
	}
	v, err := parseValue(val, info.unit)
	if err != nil {
		return Constraint{}, err
	}
	return Constraint{Text: strings.TrimSpace(s), Figure: fig, Op: op, Value: v}, nil
}

// parseValue reads a number with an optional unit and converts it to the
// figure's unit.
func parseValue(val string, kind unitKind) (float64, error) {
	if kind == unitUSD {
		val = strings.TrimSpace(strings.TrimPrefix(val, "$"))
	}
	n := numberPrefix(val)
	if n == 0 {
		return 0, fmt.Errorf("value %q is not a number", val)
	}
	v, err := strconv.ParseFloat(val[:n], 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %q is not a number", val)
	}
	if v < 0 {
		return 0, fmt.Errorf("value %q is negative", val)
	}
	unit := strings.TrimSpace(val[n:])
	units := map[unitKind]map[string]float64{
		unitLatency: {"": 1, "ms": 1, "us": 1e-3, "µs": 1e-3, "s": 1e3},
		unitRate:    {"": 1, "/s": 1, "/min": 1.0 / 60, "/h": 1.0 / 3600},
		unitRatio:   {"": 1, "x": 1},
		unitPercent: {"": 1, "%": 1},
		unitUSD:     {"": 1},
		unitCount:   {"": 1},
		unitMemory:  {"": 1, "MB": 1, "GB": 1e3, "MiB": 1.048576, "GiB": 1073.741824},
		unitPower:   {"": 1, "W": 1},
	}[kind]
	f, ok := units[unit]
	if !ok {
		var want []string
		for u := range units {
			if u != "" {
				want = append(want, u)
			}
		}
		sort.Strings(want)
		if len(want) == 0 {
			return 0, fmt.Errorf("unit %q: this figure takes a plain number", unit)
		}
		return 0, fmt.Errorf("unit %q is not valid here (want %s or none)", unit, strings.Join(want, ", "))
	}
	return v * f, nil
}

// numberPrefix returns the length of the decimal number val starts with.
func numberPrefix(val string) int {
	i := 0
	if i < len(val) && (val[i] == '+' || val[i] == '-') {
		i++
	}
	digits := 0
	for i < len(val) && (val[i] >= '0' && val[i] <= '9' || val[i] == '.') {
		if val[i] != '.' {
			digits++
		}
		i++
	}
	if digits == 0 {
		return 0
	}
	// An exponent only counts when digits follow it ("1e3", not "1e").
	if i < len(val) && (val[i] == 'e' || val[i] == 'E') {
		j := i + 1
		if j < len(val) && (val[j] == '+' || val[j] == '-') {
			j++
		}
		k := j
		for k < len(val) && val[k] >= '0' && val[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	return i
}

// Met reports whether v satisfies the constraint.
func (c Constraint) Met(v float64) bool {
	switch c.Op {
	case "<=":
		return v <= c.Value
	case "<":
		return v < c.Value
	case ">=":
		return v >= c.Value
	case ">":
		return v > c.Value
	}
	return false
}

// violation describes how v breaks the constraint, e.g. "p99 41.2ms > 20ms".
func (c Constraint) violation(v float64) string {
	neg := map[string]string{"<=": ">", "<": ">=", ">=": "<", ">": "<="}[c.Op]
	return fmt.Sprintf("%s %s %s %s", c.Figure, formatFigure(c.Figure, v), neg, formatFigure(c.Figure, c.Value))
}

// String is the constraint in canonical units, e.g. "p99 <= 50ms".
func (c Constraint) String() string {
	return fmt.Sprintf("%s %s %s", c.Figure, c.Op, formatFigure(c.Figure, c.Value))
}

// demand reports whether the constraint asks for capacity (throughput or
// data rate) rather than limiting latency or expense.
func (c Constraint) demand() bool {
	switch c.Figure {
	case "throughput", "throughput_rps", "data_rate":
		return true
	}
	return false
}

// plan is a Spec checked and parsed.
type plan struct {
	prices      Prices
	constraints []Constraint
	objective   string // a figure name or "weighted"
	weights     map[string]float64
}

// DefaultObjective is minimised when Spec.Objective is empty.
const DefaultObjective = "usd_per_million"

// Validate checks the spec's constraints, objective, weights and prices.
func (s Spec) Validate() error {
	_, err := s.plan()
	return err
}

func (s Spec) plan() (plan, error) {
	s, err := s.canonical()
	if err != nil {
		return plan{}, err
	}
	p := plan{prices: s.Prices, objective: s.Objective, weights: s.Weights}
	for i, text := range s.Constraints {
		c, err := parseConstraint(text)
		if err != nil {
			return plan{}, fmt.Errorf("constraint %d %q: %w", i+1, text, err)
		}
		p.constraints = append(p.constraints, c)
	}
	if p.objective == "" {
		p.objective = DefaultObjective
	}
	if p.objective == "weighted" {
		if len(p.weights) == 0 {
			return plan{}, errors.New("objective \"weighted\" needs weights (figure: weight)")
		}
		for f, w := range p.weights {
			if math.IsNaN(w) || math.IsInf(w, 0) {
				return plan{}, fmt.Errorf("weights: %s = %v is not a finite number", f, w)
			}
		}
	} else if len(p.weights) > 0 {
		return plan{}, fmt.Errorf("weights are set but objective is %q, not \"weighted\"", p.objective)
	}
	if err := s.Prices.validate(false); err != nil {
		return plan{}, err
	}
	if s.Prices.zero() && p.usesExpense() {
		return plan{}, errors.New("prices are all zero, so every point would cost nothing: set the scenario's prices (cost.DefaultPrices has examples)")
	}
	return p, nil
}

// usesExpense reports whether the objective depends on prices.
func (p plan) usesExpense() bool {
	if p.objective != "weighted" {
		return isExpenseFigure(p.objective)
	}
	for f, w := range p.weights {
		if w != 0 && isExpenseFigure(f) {
			return true
		}
	}
	return false
}

// objectiveFigures are the figures the objective reads.
func (p plan) objectiveFigures() []string {
	if p.objective != "weighted" {
		return []string{p.objective}
	}
	var fs []string
	for f := range p.weights {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return fs
}

// judge applies the cost function to a point's figures. norm holds the
// weighted objective's normalisers. A missing figure breaks feasibility:
// a point that cannot be checked cannot be chosen.
func (p plan) judge(figs map[string]float64, norm map[string]float64) (cost float64, feasible bool, violations []string) {
	for _, c := range p.constraints {
		v, ok := figs[c.Figure]
		switch {
		case !ok || math.IsNaN(v):
			violations = append(violations, c.Figure+" not measured")
		case !c.Met(v):
			violations = append(violations, c.violation(v))
		}
	}
	cost = 0
	for _, f := range p.objectiveFigures() {
		v, ok := figs[f]
		if !ok || math.IsNaN(v) {
			violations = append(violations, f+" not measured (objective)")
			cost = math.Inf(1)
			continue
		}
		if p.objective != "weighted" {
			if figureTable[f].higherBetter {
				v = -v
			}
			cost = v
			continue
		}
		cost += p.weights[f] * v / norm[f]
	}
	return cost, len(violations) == 0, violations
}

// normalisers returns, for a weighted objective, the median absolute value
// of each weighted figure over the given figure sets (1 when that median
// is zero or unknown), so that weights compare figures of different units.
func (p plan) normalisers(sets []map[string]float64) map[string]float64 {
	if p.objective != "weighted" {
		return nil
	}
	norm := map[string]float64{}
	for f := range p.weights {
		var vs []float64
		for _, figs := range sets {
			if v, ok := figs[f]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				vs = append(vs, math.Abs(v))
			}
		}
		m := stats.Median(vs)
		if m == 0 || math.IsNaN(m) {
			m = 1
		}
		norm[f] = m
	}
	return norm
}
