package scenarios

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iaasbench/iaasbench/modelconfig"
	"github.com/iaasbench/iaasbench/results"
)

// ModelConfigs is the model_config dimension: partial model
// configurations merged into the model's configuration at each point,
// after the point's instances and GPUs and the server settings. It is
// written either as a list of overrides,
//
//	model_config:
//	  - {dynamic_batching: {max_queue_delay_microseconds: 0}}
//	  - {dynamic_batching: {max_queue_delay_microseconds: 500, preferred_batch_size: [8]}}
//
// or as Model Analyzer writes model_config_parameters, a mapping in which
// a list sweeps a field (and a list of lists sweeps a field that is a
// list):
//
//	model_config:
//	  dynamic_batching:
//	    max_queue_delay_microseconds: [0, 100, 500, 2000]
//
// Each override is recorded with its points by name
// (results.Point.ModelConfig); each field it sets to numbers is a
// dimension named by its path, e.g.
// dynamic_batching.max_queue_delay_microseconds.
type ModelConfigs struct {
	Overrides []modelconfig.Override
	node      *yaml.Node // as written, for YAML()
}

// IsSet reports whether any override was given.
func (m ModelConfigs) IsSet() bool { return len(m.Overrides) > 0 }

// MarshalYAML writes the dimension as it was written.
func (m ModelConfigs) MarshalYAML() (any, error) {
	if m.node == nil {
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, o := range m.Overrides {
			n.Content = append(n.Content, o.Node())
		}
		return n, nil
	}
	return m.node, nil
}

// MarshalJSON writes the overrides as a list of partial configs (the
// list form, sweeps expanded).
func (m ModelConfigs) MarshalJSON() ([]byte, error) {
	if len(m.Overrides) == 0 {
		return []byte("null"), nil
	}
	list := make([]any, len(m.Overrides))
	for i, o := range m.Overrides {
		if err := o.Node().Decode(&list[i]); err != nil {
			return nil, fmt.Errorf("model_config %s: %w", o.Name, err)
		}
	}
	return json.Marshal(list)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *ModelConfigs) UnmarshalJSON(b []byte) error {
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil { // JSON is YAML
		return fmt.Errorf("model_config: %w", err)
	}
	if followAlias(n.Content[0]).ShortTag() == "!!null" {
		return nil
	}
	mc, probs := parseModelConfigs(n.Content[0], "dimensions.model_config")
	if len(probs) > 0 {
		return Problems(probs)
	}
	*m = mc
	return nil
}

// parseModelConfigs reads the dimension from its node; problems carry
// their line and the field path below it.
func parseModelConfigs(n *yaml.Node, path string) (ModelConfigs, []Problem) {
	n = followAlias(n)
	located := func(err error, prefix string) Problem {
		if e, ok := err.(*modelconfig.Error); ok {
			field := prefix
			if e.Field != "" {
				field = prefix + "." + e.Field
			}
			return Problem{Line: e.Line, Field: field, Msg: e.Msg}
		}
		return Problem{Line: n.Line, Field: prefix, Msg: err.Error()}
	}
	switch n.Kind {
	case yaml.MappingNode:
		os, err := modelconfig.Expand(n)
		if err != nil {
			return ModelConfigs{}, []Problem{located(err, path)}
		}
		return ModelConfigs{Overrides: os, node: n}, nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return ModelConfigs{}, []Problem{{Line: n.Line, Field: path, Msg: "empty list: give at least one override, or leave the dimension out"}}
		}
		var out ModelConfigs
		var probs []Problem
		firstAt := map[string]int{}
		for i, e := range n.Content {
			fp := fmt.Sprintf("%s[%d]", path, i)
			o, err := modelconfig.Parse(e)
			if err != nil {
				probs = append(probs, located(err, fp))
				continue
			}
			if j, dup := firstAt[o.Name]; dup {
				probs = append(probs, Problem{Line: followAlias(e).Line, Field: fp, Msg: fmt.Sprintf("the same override as %s[%d]", path, j)})
				continue
			}
			firstAt[o.Name] = i
			out.Overrides = append(out.Overrides, o)
		}
		out.node = n
		return out, probs
	}
	return ModelConfigs{}, []Problem{{Line: n.Line, Field: path, Msg: "want a list of partial model configs, or a mapping of fields with lists to sweep (Model Analyzer's model_config_parameters), got " + describe(n)}}
}

// ModelConfigOverride returns the override a point's ModelConfig names.
func (s *Scenario) ModelConfigOverride(name string) (modelconfig.Override, bool) {
	for _, o := range s.Dimensions.ModelConfig.Overrides {
		if o.Name == name {
			return o, true
		}
	}
	return modelconfig.Override{}, false
}

// configPoints stands each override for a point, so that package results
// can say which of its fields are numeric dimensions.
func (s *Scenario) configPoints() []results.Point {
	var out []results.Point
	for _, o := range s.Dimensions.ModelConfig.Overrides {
		out = append(out, results.Point{ModelConfig: o.Name})
	}
	return out
}

// ConfigDimensions returns the model-config fields the scenario sweeps
// as numeric dimensions: set to a number by every override, to more than
// one value.
func (s *Scenario) ConfigDimensions() []string {
	pts := s.configPoints()
	var out []string
	for _, f := range results.ConfigDimensions(pts) {
		if len(s.configValues(f)) > 1 {
			out = append(out, f)
		}
	}
	return out
}

// configValues returns a config field's distinct numeric values, in
// override order.
func (s *Scenario) configValues(field string) []float64 {
	var out []float64
	for _, p := range s.configPoints() {
		if x, err := p.Coord(field); err == nil && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// validateModelConfigs checks the overrides against the rest of the
// scenario: a field an override sets must not also be a swept dimension.
func (v *validator) modelConfigs() {
	mc := v.s.Dimensions.ModelConfig
	const field = "dimensions.model_config"
	if mc.IsSet() && v.s.Target.Kind == TargetSimulated {
		v.add(field, "the simulator does not model model-config overrides: sweep them on a server (target kind embedded, remote, local or kubernetes)")
		return
	}
	// A dimension is set when the file names it, or (a scenario built in
	// Go) when it differs from its default.
	set := func(dim string) bool {
		if _, ok := v.s.lines["dimensions."+dim]; ok {
			return true
		}
		xs := v.s.axis(dim)
		return len(xs) != 1 || xs[0] != defaultOf(dim)
	}
	for i, o := range mc.Overrides {
		if o.Sets("instance_group.count") && set("instances") {
			v.add(field, "override %d (%s) sets instance_group count, which dimensions.instances also sets: leave one of them out", i, o.Name)
			break
		}
		if o.Sets("instance_group.gpus") && set("gpus") {
			v.add(field, "override %d (%s) sets instance_group gpus, which dimensions.gpus also sets: leave one of them out", i, o.Name)
			break
		}
	}
	batches, err := v.s.Dimensions.BatchSize.Expand()
	if err != nil || len(batches) == 0 {
		batches = []float64{1}
	}
	largest := slices.Max(batches)
	for _, o := range mc.Overrides {
		for _, f := range o.Fields() {
			if f[0] != "max_batch_size" {
				continue
			}
			var mbs float64
			if _, err := fmt.Sscan(f[1], &mbs); err == nil && mbs > 0 && largest > mbs {
				v.add(field, "override %s allows batches of at most %s, but dimensions.batch_size goes up to %s: such points would be refused", o.Name, f[1], fmtFloat(largest))
				return
			}
		}
	}
}

// configDimNames lists the names usable as dimensions in cost.surface:
// results.Dimensions and the swept model-config fields.
func (s *Scenario) dimensionNames() []string {
	return append(slices.Clone(results.Dimensions), s.ConfigDimensions()...)
}

func dimsText(names []string) string { return strings.Join(names, ", ") }
