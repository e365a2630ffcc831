package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxValues is the most values one dimension may expand to.
const MaxValues = 10000

// Values is the set of values a dimension is swept over, as the user wrote
// it: an explicit List, or a Range. The zero Values is "unset" (the
// dimension's default applies).
type Values struct {
	List  []float64
	Range *Range
}

// Range is a linear (Step) or geometric (Factor) progression from From up
// to and including To; exactly one of Step and Factor is set.
type Range struct {
	From   float64 `yaml:"from" json:"from"`
	To     float64 `yaml:"to" json:"to"`
	Step   float64 `yaml:"step,omitempty" json:"step,omitempty"`
	Factor float64 `yaml:"factor,omitempty" json:"factor,omitempty"`
}

// ValuesOf returns an explicit list of values.
func ValuesOf(v ...float64) Values { return Values{List: append([]float64(nil), v...)} }

// LinearRange returns from, from+step, ... up to to.
func LinearRange(from, to, step float64) Values {
	return Values{Range: &Range{From: from, To: to, Step: step}}
}

// GeometricRange returns from, from·factor, from·factor², ... up to to.
func GeometricRange(from, to, factor float64) Values {
	return Values{Range: &Range{From: from, To: to, Factor: factor}}
}

// IsSet reports whether any value was given.
func (v Values) IsSet() bool { return len(v.List) > 0 || v.Range != nil }

// Expand returns the values in sweep order, checking that they are finite,
// distinct and no more than MaxValues. An unset Values expands to nil.
func (v Values) Expand() ([]float64, error) {
	if v.Range != nil {
		if len(v.List) > 0 {
			return nil, fmt.Errorf("give a list or a range, not both")
		}
		return v.Range.Expand()
	}
	if len(v.List) > MaxValues {
		return nil, fmt.Errorf("%d values, more than %d", len(v.List), MaxValues)
	}
	seen := make(map[float64]bool, len(v.List))
	for _, x := range v.List {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("want finite numbers, got %v", x)
		}
		if seen[x] {
			return nil, fmt.Errorf("value %s is listed twice", fmtFloat(x))
		}
		seen[x] = true
	}
	if len(v.List) == 0 {
		return nil, nil
	}
	return append([]float64(nil), v.List...), nil
}

// Expand returns the range's values, From first.
func (r Range) Expand() ([]float64, error) {
	for _, x := range []float64{r.From, r.To, r.Step, r.Factor} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("range: want finite numbers, got %v", x)
		}
	}
	if r.From > r.To {
		return nil, fmt.Errorf("range: from (%s) is greater than to (%s)", fmtFloat(r.From), fmtFloat(r.To))
	}
	var n float64
	var at func(i int) float64
	switch {
	case r.Step != 0 && r.Factor != 0:
		return nil, fmt.Errorf("range: give step (linear) or factor (geometric), not both")
	case r.Step != 0:
		if r.Step < 0 {
			return nil, fmt.Errorf("range: step must be > 0, got %s", fmtFloat(r.Step))
		}
		// The small slack admits To itself despite rounding (0.1+0.1+0.1).
		n = math.Floor((r.To-r.From)/r.Step+1e-9) + 1
		at = func(i int) float64 { return r.From + float64(i)*r.Step }
	case r.Factor != 0:
		if r.Factor <= 1 {
			return nil, fmt.Errorf("range: factor must be > 1, got %s", fmtFloat(r.Factor))
		}
		if r.From <= 0 {
			return nil, fmt.Errorf("range: a geometric range needs from > 0, got %s", fmtFloat(r.From))
		}
		n = math.Floor(math.Log(r.To/r.From)/math.Log(r.Factor)+1e-9) + 1
		at = func(i int) float64 { return r.From * math.Pow(r.Factor, float64(i)) }
	default:
		return nil, fmt.Errorf("range: needs step (linear) or factor (geometric)")
	}
	if n > MaxValues || math.IsNaN(n) {
		return nil, fmt.Errorf("range: %s values, more than %d", fmtFloat(n), MaxValues)
	}
	out := make([]float64, int(n))
	for i := range out {
		out[i] = clean(at(i))
		if i > 0 && out[i] == out[i-1] {
			return nil, fmt.Errorf("range: step too small to tell values apart near %s", fmtFloat(out[i]))
		}
	}
	return out, nil
}

// clean rounds away binary noise (0.30000000000000004 → 0.3) so that
// expanded values print and compare as written.
func clean(x float64) float64 {
	y, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
	if err != nil {
		return x
	}
	return y
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// MarshalYAML writes a list or range in flow style: clients: [1, 2, 4].
func (v Values) MarshalYAML() (any, error) {
	if v.Range != nil {
		n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		add := func(k string, x float64) {
			n.Content = append(n.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Value: k},
				&yaml.Node{Kind: yaml.ScalarNode, Value: fmtFloat(x)})
		}
		add("from", v.Range.From)
		add("to", v.Range.To)
		if v.Range.Step != 0 {
			add("step", v.Range.Step)
		}
		if v.Range.Factor != 0 {
			add("factor", v.Range.Factor)
		}
		return n, nil
	}
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, x := range v.List {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: fmtFloat(x)})
	}
	return n, nil
}

// UnmarshalYAML accepts a number, a list of numbers or a range mapping.
func (v *Values) UnmarshalYAML(n *yaml.Node) error {
	out, errs := parseValues(n)
	if len(errs) > 0 {
		e := errs[0]
		return fmt.Errorf("line %d: %s", e.line, e.msg)
	}
	*v = out
	return nil
}

// MarshalJSON writes a list as an array and a range as an object.
func (v Values) MarshalJSON() ([]byte, error) {
	if v.Range != nil {
		return json.Marshal(v.Range)
	}
	if v.List == nil {
		return []byte("null"), nil
	}
	return json.Marshal(v.List)
}

// UnmarshalJSON accepts a number, an array or a range object.
func (v *Values) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil // leave unset, as encoding/json does for null
	}
	var x float64
	if err := json.Unmarshal(b, &x); err == nil {
		*v = ValuesOf(x)
		return nil
	}
	var list []float64
	if err := json.Unmarshal(b, &list); err == nil {
		*v = Values{List: list}
		return nil
	}
	var r Range
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("values: want a number, a list or a range {from, to, step|factor}: %w", err)
	}
	*v = Values{Range: &r}
	return nil
}

// commaValues reads Model Analyzer's comma-delimited list, "1,2,4".
func commaValues(n *yaml.Node) (Values, []locError) {
	var list []float64
	seen := map[float64]bool{}
	for i, part := range strings.Split(n.Value, ",") {
		part = strings.TrimSpace(part)
		x, err := strconv.ParseFloat(part, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return Values{}, []locError{{line: n.Line, sub: fmt.Sprintf("[%d]", i), msg: fmt.Sprintf("want a number, got %q (in the list %q)", part, n.Value)}}
		}
		if seen[x] {
			return Values{}, []locError{{line: n.Line, sub: fmt.Sprintf("[%d]", i), msg: fmt.Sprintf("value %s is listed twice", fmtFloat(x))}}
		}
		seen[x] = true
		list = append(list, x)
	}
	if len(list) > MaxValues {
		return Values{}, []locError{{line: n.Line, msg: fmt.Sprintf("%d values, more than %d", len(list), MaxValues)}}
	}
	return Values{List: list}, nil
}

// locError is a problem found below the node being decoded: sub extends
// the field path ("[2]", ".step").
type locError struct {
	line int
	sub  string
	msg  string
}

// parseValues decodes a dimension's node and expands it so that range
// errors carry the range's line.
func parseValues(n *yaml.Node) (Values, []locError) {
	n = followAlias(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" && strings.Contains(n.Value, ",") {
			return commaValues(n)
		}
		x, err := scalarFloat(n)
		if err != nil {
			return Values{}, []locError{{line: n.Line, msg: "want a number, a list [1, 2, 4] (or \"1,2,4\"), or a range {from: 1, to: 8, step: 1} (or {start: 1, stop: 8, step: 1}), got " + describe(n)}}
		}
		return ValuesOf(x), nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return Values{}, []locError{{line: n.Line, msg: "empty list: give at least one value, or leave the dimension out for its default"}}
		}
		if len(n.Content) > MaxValues {
			return Values{}, []locError{{line: n.Line, msg: fmt.Sprintf("%d values, more than %d", len(n.Content), MaxValues)}}
		}
		var errs []locError
		list := make([]float64, 0, len(n.Content))
		firstAt := map[float64]int{}
		for i, e := range n.Content {
			e = followAlias(e)
			sub := fmt.Sprintf("[%d]", i)
			if e.Kind != yaml.ScalarNode {
				errs = append(errs, locError{line: e.Line, sub: sub, msg: "want a number, got " + describe(e)})
				continue
			}
			x, err := scalarFloat(e)
			if err != nil {
				errs = append(errs, locError{line: e.Line, sub: sub, msg: err.Error()})
				continue
			}
			if l, dup := firstAt[x]; dup {
				errs = append(errs, locError{line: e.Line, sub: sub, msg: fmt.Sprintf("value %s is listed twice (first at line %d)", fmtFloat(x), l)})
				continue
			}
			firstAt[x] = e.Line
			list = append(list, x)
		}
		return Values{List: list}, errs
	case yaml.MappingNode:
		var r Range
		var errs []locError
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := followAlias(n.Content[i]), followAlias(n.Content[i+1])
			name := k.Value
			if k.Kind != yaml.ScalarNode {
				errs = append(errs, locError{line: k.Line, msg: "range keys are from, to, step, factor; got " + describe(k)})
				continue
			}
			var dst *float64
			switch name {
			case "from", "start": // start/stop/step is Model Analyzer's range
				dst = &r.From
			case "to", "stop":
				dst = &r.To
			case "step":
				dst = &r.Step
			case "factor":
				dst = &r.Factor
			default:
				errs = append(errs, locError{line: k.Line, sub: "." + name, msg: "unknown field" + suggest(name, []string{"from", "to", "step", "factor", "start", "stop"})})
				continue
			}
			if (name == "start" && seen["from"]) || (name == "from" && seen["start"]) || (name == "stop" && seen["to"]) || (name == "to" && seen["stop"]) {
				errs = append(errs, locError{line: k.Line, sub: "." + name, msg: "give from/to or start/stop, not both"})
				continue
			}
			if seen[name] {
				errs = append(errs, locError{line: k.Line, sub: "." + name, msg: "given twice"})
				continue
			}
			seen[name] = true
			x, err := scalarFloat(val)
			if err != nil {
				errs = append(errs, locError{line: val.Line, sub: "." + name, msg: err.Error()})
				continue
			}
			*dst = x
		}
		if len(errs) > 0 {
			return Values{}, errs
		}
		if seen["start"] || seen["stop"] {
			// Model Analyzer's range: start and stop, step 1 unless given;
			// stop is included when the steps land on it, as in its
			// range(start, stop+1, step).
			if !seen["start"] || !seen["stop"] {
				return Values{}, []locError{{line: n.Line, msg: "a Model Analyzer range needs start and stop, e.g. {start: 1, stop: 8, step: 1}"}}
			}
			if seen["factor"] {
				return Values{}, []locError{{line: n.Line, msg: "a start/stop range is linear: use step, or from/to with factor"}}
			}
			if !seen["step"] {
				r.Step = 1
			}
			seen["from"], seen["to"], seen["step"] = true, true, true
		}
		if !seen["from"] || !seen["to"] {
			return Values{}, []locError{{line: n.Line, msg: "a range needs from and to, e.g. {from: 1, to: 8, step: 1} or {from: 1, to: 64, factor: 2}"}}
		}
		if (seen["step"] && r.Step == 0) || (seen["factor"] && r.Factor == 0) {
			return Values{}, []locError{{line: n.Line, msg: "range: step must be > 0 and factor > 1"}}
		}
		if _, err := r.Expand(); err != nil {
			return Values{}, []locError{{line: n.Line, msg: err.Error()}}
		}
		return Values{Range: &r}, nil
	}
	return Values{}, []locError{{line: n.Line, msg: "want a number, a list or a range, got " + describe(n)}}
}
