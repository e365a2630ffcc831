package results

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ConfigPairs splits p.ModelConfig into its field=value pairs, in the
// order written. A value may be double-quoted (a string holding ";" or
// "="); the quotes are kept, as written.
func (p Point) ConfigPairs() [][2]string {
	var out [][2]string
	for _, part := range splitOutsideQuotes(p.ModelConfig, ';') {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// ConfigValue returns the value the point's model-config override gives
// field (e.g. "dynamic_batching.max_queue_delay_microseconds").
func (p Point) ConfigValue(field string) (string, bool) {
	if p.ModelConfig == "" {
		return "", false
	}
	for _, kv := range p.ConfigPairs() {
		if kv[0] == field {
			return kv[1], true
		}
	}
	return "", false
}

// ConfigNumber reads a model-config value as a coordinate: a number as
// itself, true and false as 1 and 0, a list of numbers such as
// preferred_batch_size "[4,8]" as its largest element (the size the
// dynamic batcher aims for). Names (KIND_GPU) and strings are not
// numbers: such a field distinguishes points but is no numeric axis.
func ConfigNumber(v string) (float64, error) {
	switch v {
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		inner := strings.TrimSpace(v[1 : len(v)-1])
		if inner == "" {
			return 0, fmt.Errorf("value %s is an empty list, not a number", v)
		}
		best := math.Inf(-1)
		for _, e := range strings.Split(inner, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(e), 64)
			if err != nil {
				return 0, fmt.Errorf("value %s is not a list of numbers", v)
			}
			best = math.Max(best, x)
		}
		return best, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("value %s is not a number (a name is recorded with the point but is not a numeric axis)", v)
	}
	return x, nil
}

// IsConfigField reports whether name can name a model-config field: not
// one of Dimensions, not empty, and free of the separators of
// Point.ModelConfig.
func IsConfigField(name string) bool {
	return name != "" && !slices.Contains(Dimensions, name) && !strings.ContainsAny(name, "=;, \t")
}

// ConfigFields returns every model-config field the points set, in the
// order first seen.
func ConfigFields(points []Point) []string {
	var out []string
	for _, p := range points {
		for _, kv := range p.ConfigPairs() {
			if !slices.Contains(out, kv[0]) {
				out = append(out, kv[0])
			}
		}
	}
	return out
}

// ConfigDimensions returns the model-config fields that are numeric axes
// of the points: set by every point, to a number (see ConfigNumber).
func ConfigDimensions(points []Point) []string {
	var out []string
	for _, f := range ConfigFields(points) {
		numeric := true
		for _, p := range points {
			v, ok := p.ConfigValue(f)
			if !ok {
				numeric = false
				break
			}
			if _, err := ConfigNumber(v); err != nil {
				numeric = false
				break
			}
		}
		if numeric {
			out = append(out, f)
		}
	}
	return out
}

// DimensionsOf is Dimensions followed by the points' ConfigDimensions.
func DimensionsOf(points []Point) []string {
	return append(slices.Clone(Dimensions), ConfigDimensions(points)...)
}

// CategoricalFields returns the model-config fields the points set to
// different values that are not numbers (e.g. instance_group.kind): they
// tell points apart but cannot be fitted along.
func CategoricalFields(points []Point) []string {
	numeric := ConfigDimensions(points)
	var out []string
	for _, f := range ConfigFields(points) {
		if slices.Contains(numeric, f) {
			continue
		}
		seen := map[string]bool{}
		for _, p := range points {
			v, _ := p.ConfigValue(f)
			seen[v] = true
		}
		if len(seen) > 1 {
			out = append(out, f)
		}
	}
	return out
}

// splitOutsideQuotes splits s at sep where sep is not inside a
// double-quoted string (with backslash escapes).
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
