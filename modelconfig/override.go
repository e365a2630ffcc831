// Package modelconfig reads partial Triton model configurations
// (overrides) as Model Analyzer's model_config_parameters write them,
// expands the values they sweep, names each one, and merges one into a
// model's configuration: what a sweep applies through RepositoryModelLoad.
// Field names are the protobuf names of Triton's model_config.proto
// (max_batch_size, dynamic_batching, instance_group, ...), checked against
// the schema, so a misspelt field is an error naming its line.
package modelconfig

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/editdist"
)

// MaxOverrides bounds how many overrides one sweep form may expand to.
const MaxOverrides = 10000

// Override is one partial model configuration, checked against the
// schema. Its Name lists every field it sets as field=value pairs joined
// by ";", sorted by field: the same override always has the same name,
// whatever order its fields were written in.
type Override struct {
	Name string
	node *yaml.Node // a mapping: the fields as written, sweeps resolved
}

// Error is a problem in an override, located at its line.
type Error struct {
	Line  int
	Field string // path from the override's root, e.g. "dynamic_batching.max_queue_delay_microseconds"
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func errAt(n *yaml.Node, field, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

var configDesc = (&pb.ModelConfig{}).ProtoReflect().Descriptor()

// Parse reads one override (a mapping of model-config fields, no sweeps:
// a list is a value only where the field is repeated).
func Parse(n *yaml.Node) (Override, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return Override{}, errAt(n, "", "want a mapping of model-config fields (e.g. {dynamic_batching: {max_queue_delay_microseconds: 100}}), got %s", describe(n))
	}
	if err := check(n, configDesc, ""); err != nil {
		return Override{}, err
	}
	return newOverride(n), nil
}

// Expand reads Model Analyzer's model_config_parameters: a mapping of
// fields where a list of values sweeps the field (max_batch_size: [4, 8])
// and a field that is itself a list (preferred_batch_size,
// instance_group) is swept by a list of lists. It returns every
// combination, the first field varying slowest.
func Expand(n *yaml.Node) ([]Override, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, errAt(n, "", "want a mapping of model-config fields, got %s", describe(n))
	}
	alts, err := expandMessage(n, configDesc, "")
	if err != nil {
		return nil, err
	}
	out := make([]Override, 0, len(alts))
	seen := map[string]bool{}
	for _, a := range alts {
		o := newOverride(a)
		if seen[o.Name] {
			continue
		}
		seen[o.Name] = true
		out = append(out, o)
	}
	return out, nil
}

func newOverride(n *yaml.Node) Override {
	var pairs []string
	for _, l := range leaves(n, configDesc, "") {
		pairs = append(pairs, l[0]+"="+l[1])
	}
	sort.Strings(pairs)
	return Override{Name: strings.Join(pairs, ";"), node: n}
}

// Node returns the override as a YAML mapping (a copy).
func (o Override) Node() *yaml.Node {
	if o.node == nil {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	return clone(o.node)
}

// Fields returns the fields the override sets with their values, as in
// Name.
func (o Override) Fields() [][2]string {
	if o.node == nil {
		return nil
	}
	out := leaves(o.node, configDesc, "")
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// Apply returns cfg with the override merged in: a scalar replaces the
// config's value, a message merges field by field, a map merges key by
// key, a list of scalars replaces the config's list, and a list of
// messages merges element by element (element i onto the config's
// element i; the result has the override's length). So that instance
// groups stay legal, a group whose kind becomes other than KIND_GPU (or
// KIND_AUTO) loses its gpus list, as Triton rejects GPUs on CPU groups.
func (o Override) Apply(cfg *pb.ModelConfig) (*pb.ModelConfig, error) {
	out := proto.Clone(cfg).(*pb.ModelConfig)
	if o.node == nil {
		return out, nil
	}
	if err := apply(out.ProtoReflect(), o.node, ""); err != nil {
		return nil, err
	}
	for _, g := range out.GetInstanceGroup() {
		if k := g.GetKind(); k == pb.ModelInstanceGroup_KIND_CPU || k == pb.ModelInstanceGroup_KIND_MODEL {
			g.Gpus = nil
		}
	}
	return out, nil
}

// Sets reports whether the override sets field (a path such as
// "instance_group.count", as in Fields; an index is ignored).
func (o Override) Sets(field string) bool {
	for _, f := range o.Fields() {
		if stripIndex(f[0]) == field || strings.HasPrefix(stripIndex(f[0]), field+".") {
			return true
		}
	}
	return false
}

func stripIndex(path string) string {
	var b strings.Builder
	depth := 0
	for _, r := range path {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// --- schema checks -------------------------------------------------------

func fieldOf(md protoreflect.MessageDescriptor, k *yaml.Node, path string) (protoreflect.FieldDescriptor, error) {
	if k.Kind != yaml.ScalarNode {
		return nil, errAt(k, path, "keys must be field names, got %s", describe(k))
	}
	fd := md.Fields().ByName(protoreflect.Name(k.Value))
	if fd == nil {
		fd = md.Fields().ByJSONName(k.Value)
	}
	if fd == nil {
		var names []string
		for i := 0; i < md.Fields().Len(); i++ {
			names = append(names, string(md.Fields().Get(i).Name()))
		}
		return nil, errAt(k, join(path, k.Value), "not a field of %s%s", md.Name(), suggest(k.Value, names))
	}
	return fd, nil
}

// check validates a concrete override: every list is a value.
func check(n *yaml.Node, md protoreflect.MessageDescriptor, path string) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		fd, err := fieldOf(md, k, path)
		if err != nil {
			return err
		}
		fp := join(path, string(fd.Name()))
		if l, dup := seen[string(fd.Name())]; dup {
			return errAt(k, fp, "given twice (first at line %d)", l)
		}
		seen[string(fd.Name())] = k.Line
		if err := checkField(fd, v, fp); err != nil {
			return err
		}
	}
	return nil
}

func checkField(fd protoreflect.FieldDescriptor, v *yaml.Node, fp string) error {
	switch {
	case fd.IsMap():
		if v.Kind != yaml.MappingNode {
			return errAt(v, fp, "want a mapping (a map field), got %s", describe(v))
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, e := deref(v.Content[i]), deref(v.Content[i+1])
			if _, err := scalar(fd.MapKey(), k, fp+"."+k.Value); err != nil {
				return err
			}
			if err := checkSingle(fd.MapValue(), e, fp+"."+k.Value); err != nil {
				return err
			}
		}
		return nil
	case fd.IsList():
		if v.Kind != yaml.SequenceNode {
			return errAt(v, fp, "want a list (a repeated field), got %s", describe(v))
		}
		for i, e := range v.Content {
			if err := checkSingle(fd, deref(e), fmt.Sprintf("%s[%d]", fp, i)); err != nil {
				return err
			}
		}
		return nil
	}
	return checkSingle(fd, v, fp)
}

func checkSingle(fd protoreflect.FieldDescriptor, v *yaml.Node, fp string) error {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		if v.Kind != yaml.MappingNode {
			return errAt(v, fp, "want a mapping (%s), got %s", fd.Message().Name(), describe(v))
		}
		return check(v, fd.Message(), fp)
	}
	_, err := scalar(fd, v, fp)
	return err
}

// scalar converts a YAML scalar to the field's protobuf value.
func scalar(fd protoreflect.FieldDescriptor, v *yaml.Node, fp string) (protoreflect.Value, error) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
		return protoreflect.Value{}, errAt(v, fp, "want %s, got %s", kindText(fd), describe(v))
	}
	s := v.Value
	bad := func() (protoreflect.Value, error) {
		return protoreflect.Value{}, errAt(v, fp, "want %s, got %s", kindText(fd), describe(v))
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch strings.ToLower(s) {
		case "true":
			return protoreflect.ValueOfBool(true), nil
		case "false":
			return protoreflect.ValueOfBool(false), nil
		}
		return bad()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		i, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfInt32(int32(i)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfInt64(i), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		i, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfUint32(uint32(i)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		i, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfUint64(i), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return bad()
		}
		if fd.Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(x)), nil
		}
		return protoreflect.ValueOfFloat64(x), nil
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(s)), nil
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByName(protoreflect.Name(s))
		if ev == nil {
			if i, err := strconv.ParseInt(s, 10, 32); err == nil {
				ev = fd.Enum().Values().ByNumber(protoreflect.EnumNumber(i))
			}
		}
		if ev == nil {
			var names []string
			for i := 0; i < fd.Enum().Values().Len(); i++ {
				names = append(names, string(fd.Enum().Values().Get(i).Name()))
			}
			return protoreflect.Value{}, errAt(v, fp, "%q is not one of %s", s, strings.Join(names, ", "))
		}
		return protoreflect.ValueOfEnum(ev.Number()), nil
	}
	return bad()
}

func kindText(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "a string"
	case protoreflect.EnumKind:
		return "one of " + string(fd.Enum().Name())
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return "a whole number >= 0"
	case protoreflect.MessageKind:
		return "a mapping"
	}
	return "an integer"
}

// --- sweep expansion -----------------------------------------------------

// expandMessage returns every concrete mapping a sweep-form mapping
// stands for.
func expandMessage(n *yaml.Node, md protoreflect.MessageDescriptor, path string) ([]*yaml.Node, error) {
	type choice struct {
		key  *yaml.Node
		alts []*yaml.Node
	}
	var choices []choice
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		fd, err := fieldOf(md, k, path)
		if err != nil {
			return nil, err
		}
		fp := join(path, string(fd.Name()))
		if l, dup := seen[string(fd.Name())]; dup {
			return nil, errAt(k, fp, "given twice (first at line %d)", l)
		}
		seen[string(fd.Name())] = k.Line
		alts, err := expandField(fd, v, fp)
		if err != nil {
			return nil, err
		}
		choices = append(choices, choice{k, alts})
	}
	out := []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line}}
	for _, c := range choices {
		if len(out)*len(c.alts) > MaxOverrides {
			return nil, errAt(c.key, join(path, c.key.Value), "the sweep has more than %d combinations", MaxOverrides)
		}
		var next []*yaml.Node
		for _, m := range out {
			for _, a := range c.alts {
				m2 := clone(m)
				m2.Content = append(m2.Content, clone(c.key), a)
				next = append(next, m2)
			}
		}
		out = next
	}
	return out, nil
}

func expandField(fd protoreflect.FieldDescriptor, v *yaml.Node, fp string) ([]*yaml.Node, error) {
	switch {
	case fd.IsMap():
		if v.Kind != yaml.MappingNode {
			return nil, errAt(v, fp, "want a mapping (a map field), got %s", describe(v))
		}
		out := []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line}}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, e := deref(v.Content[i]), deref(v.Content[i+1])
			if _, err := scalar(fd.MapKey(), k, fp+"."+k.Value); err != nil {
				return nil, err
			}
			alts, err := expandSingle(fd.MapValue(), e, fp+"."+k.Value)
			if err != nil {
				return nil, err
			}
			var next []*yaml.Node
			for _, m := range out {
				for _, a := range alts {
					m2 := clone(m)
					m2.Content = append(m2.Content, clone(k), a)
					next = append(next, m2)
				}
			}
			if len(next) > MaxOverrides {
				return nil, errAt(k, fp, "the sweep has more than %d combinations", MaxOverrides)
			}
			out = next
		}
		return out, nil
	case fd.IsList():
		if v.Kind != yaml.SequenceNode {
			return nil, errAt(v, fp, "want a list (a repeated field; sweep it with a list of lists), got %s", describe(v))
		}
		if len(v.Content) > 0 && allSequences(v.Content) {
			// A list of lists: each inner list is one value of the sweep.
			var out []*yaml.Node
			for i, e := range v.Content {
				alts, err := expandList(fd, deref(e), fmt.Sprintf("%s[%d]", fp, i))
				if err != nil {
					return nil, err
				}
				out = append(out, alts...)
			}
			return out, nil
		}
		return expandList(fd, v, fp)
	}
	if v.Kind == yaml.SequenceNode {
		// A list of values for a single field: sweep it.
		if len(v.Content) == 0 {
			return nil, errAt(v, fp, "empty list: give at least one value to sweep")
		}
		var out []*yaml.Node
		for i, e := range v.Content {
			alts, err := expandSingle(fd, deref(e), fmt.Sprintf("%s[%d]", fp, i))
			if err != nil {
				return nil, err
			}
			out = append(out, alts...)
		}
		return out, nil
	}
	return expandSingle(fd, v, fp)
}

// expandList expands one value of a repeated field: for messages, the
// sweeps inside each element multiply.
func expandList(fd protoreflect.FieldDescriptor, v *yaml.Node, fp string) ([]*yaml.Node, error) {
	out := []*yaml.Node{{Kind: yaml.SequenceNode, Tag: "!!seq", Style: v.Style, Line: v.Line}}
	for i, e := range v.Content {
		e = deref(e)
		ep := fmt.Sprintf("%s[%d]", fp, i)
		var alts []*yaml.Node
		if fd.Kind() == protoreflect.MessageKind {
			a, err := expandSingle(fd, e, ep)
			if err != nil {
				return nil, err
			}
			alts = a
		} else {
			if _, err := scalar(fd, e, ep); err != nil {
				return nil, err
			}
			alts = []*yaml.Node{clone(e)}
		}
		var next []*yaml.Node
		for _, s := range out {
			for _, a := range alts {
				s2 := clone(s)
				s2.Content = append(s2.Content, a)
				next = append(next, s2)
			}
		}
		if len(next) > MaxOverrides {
			return nil, errAt(e, ep, "the sweep has more than %d combinations", MaxOverrides)
		}
		out = next
	}
	return out, nil
}

func expandSingle(fd protoreflect.FieldDescriptor, v *yaml.Node, fp string) ([]*yaml.Node, error) {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		if v.Kind != yaml.MappingNode {
			return nil, errAt(v, fp, "want a mapping (%s), got %s", fd.Message().Name(), describe(v))
		}
		return expandMessage(v, fd.Message(), fp)
	}
	if v.Kind == yaml.SequenceNode {
		var out []*yaml.Node
		for i, e := range v.Content {
			e = deref(e)
			if _, err := scalar(fd, e, fmt.Sprintf("%s[%d]", fp, i)); err != nil {
				return nil, err
			}
			out = append(out, clone(e))
		}
		if len(out) == 0 {
			return nil, errAt(v, fp, "empty list: give at least one value to sweep")
		}
		return out, nil
	}
	if _, err := scalar(fd, v, fp); err != nil {
		return nil, err
	}
	return []*yaml.Node{clone(v)}, nil
}

func allSequences(ns []*yaml.Node) bool {
	for _, n := range ns {
		if deref(n).Kind != yaml.SequenceNode {
			return false
		}
	}
	return true
}

// --- merge ---------------------------------------------------------------

func apply(m protoreflect.Message, n *yaml.Node, path string) error {
	md := m.Descriptor()
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		fd, err := fieldOf(md, k, path)
		if err != nil {
			return err
		}
		fp := join(path, string(fd.Name()))
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for j := 0; j+1 < len(v.Content); j += 2 {
				kk, e := deref(v.Content[j]), deref(v.Content[j+1])
				key, err := scalar(fd.MapKey(), kk, fp+"."+kk.Value)
				if err != nil {
					return err
				}
				mk := key.MapKey()
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					if err := apply(mp.Mutable(mk).Message(), e, fp+"."+kk.Value); err != nil {
						return err
					}
					continue
				}
				val, err := scalar(fd.MapValue(), e, fp+"."+kk.Value)
				if err != nil {
					return err
				}
				mp.Set(mk, val)
			}
		case fd.IsList():
			if v.Kind != yaml.SequenceNode {
				return errAt(v, fp, "want a list, got %s", describe(v))
			}
			list := m.Mutable(fd).List()
			if fd.Kind() == protoreflect.MessageKind {
				for j, e := range v.Content {
					var elem protoreflect.Message
					if j < list.Len() {
						elem = list.Get(j).Message()
					} else {
						elem = list.AppendMutable().Message()
					}
					if err := apply(elem, deref(e), fmt.Sprintf("%s[%d]", fp, j)); err != nil {
						return err
					}
				}
				list.Truncate(len(v.Content))
				continue
			}
			list.Truncate(0)
			for j, e := range v.Content {
				val, err := scalar(fd, deref(e), fmt.Sprintf("%s[%d]", fp, j))
				if err != nil {
					return err
				}
				list.Append(val)
			}
		case fd.Kind() == protoreflect.MessageKind:
			if v.Kind != yaml.MappingNode {
				return errAt(v, fp, "want a mapping, got %s", describe(v))
			}
			if err := apply(m.Mutable(fd).Message(), v, fp); err != nil {
				return err
			}
		default:
			val, err := scalar(fd, v, fp)
			if err != nil {
				return err
			}
			m.Set(fd, val)
		}
	}
	return nil
}

// --- names ---------------------------------------------------------------

// leaves lists field=value of every scalar set under n. A list of
// scalars is one value, "[4,8]"; a list of messages is walked with an
// index ("instance_group[1].kind") unless it has one element
// ("instance_group.kind"). An empty message is a leaf "{}": setting
// dynamic_batching {} turns the batcher on.
func leaves(n *yaml.Node, md protoreflect.MessageDescriptor, path string) [][2]string {
	var out [][2]string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		fd := md.Fields().ByName(protoreflect.Name(k.Value))
		if fd == nil {
			fd = md.Fields().ByJSONName(k.Value)
		}
		if fd == nil {
			continue // checked before: cannot happen
		}
		fp := join(path, string(fd.Name()))
		switch {
		case fd.IsMap():
			for j := 0; j+1 < len(v.Content); j += 2 {
				kk, e := deref(v.Content[j]), deref(v.Content[j+1])
				sub := fp + "." + kk.Value
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					out = append(out, messageLeaves(e, fd.MapValue().Message(), sub)...)
				} else {
					out = append(out, [2]string{sub, valueText(fd.MapValue(), e)})
				}
			}
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			for j, e := range v.Content {
				sub := fp
				if len(v.Content) > 1 {
					sub = fmt.Sprintf("%s[%d]", fp, j)
				}
				out = append(out, messageLeaves(deref(e), fd.Message(), sub)...)
			}
			if len(v.Content) == 0 {
				out = append(out, [2]string{fp, "[]"})
			}
		case fd.IsList():
			parts := make([]string, len(v.Content))
			for j, e := range v.Content {
				parts[j] = valueText(fd, deref(e))
			}
			out = append(out, [2]string{fp, "[" + strings.Join(parts, ",") + "]"})
		case fd.Kind() == protoreflect.MessageKind:
			out = append(out, messageLeaves(v, fd.Message(), fp)...)
		default:
			out = append(out, [2]string{fp, valueText(fd, v)})
		}
	}
	return out
}

func messageLeaves(n *yaml.Node, md protoreflect.MessageDescriptor, path string) [][2]string {
	if len(n.Content) == 0 {
		return [][2]string{{path, "{}"}}
	}
	return leaves(n, md, path)
}

// valueText writes a scalar canonically: numbers as Go prints them,
// enums by name, strings quoted when they hold a separator.
func valueText(fd protoreflect.FieldDescriptor, v *yaml.Node) string {
	val, err := scalar(fd, v, "")
	if err != nil {
		return v.Value
	}
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(val.Enum()); ev != nil {
			return string(ev.Name())
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return strconv.FormatFloat(val.Float(), 'g', -1, 64)
	case protoreflect.StringKind, protoreflect.BytesKind:
		s := v.Value
		if s == "" || strings.ContainsAny(s, ";=,\"[] \t\n") {
			return strconv.Quote(s)
		}
		return s
	}
	return val.String()
}

// --- helpers -------------------------------------------------------------

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; i < 16 && n != nil && n.Kind == yaml.AliasNode; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return deref(n.Content[0])
	}
	return n
}

func clone(n *yaml.Node) *yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		c.Content[i] = clone(e)
	}
	return &c
}

func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing (null)"
		}
		s := n.Value
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return strconv.Quote(s)
	}
	return "something else"
}

// suggest names the closest valid field, or lists a few.
func suggest(got string, valid []string) string {
	best, bestD := "", math.MaxInt
	for _, v := range valid {
		if d := editdist.Levenshtein(strings.ToLower(got), v); d < bestD {
			best, bestD = v, d
		}
	}
	if best != "" && bestD <= max(2, len(got)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	// An abbreviation (max_queue_delay_us) shares a long prefix.
	for _, v := range valid {
		n := 0
		for n < len(v) && n < len(got) && v[n] == got[n] {
			n++
		}
		if n >= 6 && 3*n >= 2*len(got) {
			return fmt.Sprintf(" (did you mean %q?)", v)
		}
	}
	slices.Sort(valid)
	if len(valid) > 12 {
		valid = append(valid[:12:12], "...")
	}
	return fmt.Sprintf(" (fields: %s)", strings.Join(valid, ", "))
}
