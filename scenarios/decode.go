package scenarios

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/internal/editdist"
	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a scenario, located in its file.
type Problem struct {
	File  string `json:"file"`
	Line  int    `json:"line,omitempty"` // 0 when unknown (a scenario built in Go)
	Field string `json:"field,omitempty"`
	Msg   string `json:"msg"`
}

// String is "file:line: field: message".
func (p Problem) String() string {
	var b strings.Builder
	if p.File == "" {
		b.WriteString("scenario")
	} else {
		b.WriteString(p.File)
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a scenario, in file order; it is the
// error that Parse, Load and Validate return.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0 // located problems first
		}
		return li < lj
	})
	return ps
}

// maxNodes bounds the work of decoding one document, aliases included, so
// that an alias bomb is an error rather than a hang.
const maxNodes = 100000

// decoder walks a yaml.Node tree into Go values strictly: unknown keys,
// duplicate keys and wrongly typed scalars are problems that name the file,
// line and field path; it records the line of every field it sets.
type decoder struct {
	file     string
	lines    map[string]int
	problems Problems
	visits   int
	tooBig   bool
}

func (d *decoder) fail(line int, field, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// visit counts a node and follows aliases; nil means stop.
func (d *decoder) visit(n *yaml.Node, field string) *yaml.Node {
	for n != nil {
		d.visits++
		if d.visits > maxNodes {
			if !d.tooBig {
				d.tooBig = true
				d.fail(n.Line, field, "document too large or too deeply aliased (more than %d nodes)", maxNodes)
			}
			return nil
		}
		if n.Kind != yaml.AliasNode {
			return n
		}
		n = n.Alias
	}
	return nil
}

var (
	durationType     = reflect.TypeOf(Duration(0))
	valuesType       = reflect.TypeOf(Values{})
	modelConfigsType = reflect.TypeOf(ModelConfigs{})
)

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// decode stores n into v (addressable). A null node leaves v as it is, so
// that defaults filled in beforehand survive "key:" with no value.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = d.visit(n, path)
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	switch v.Type() {
	case durationType:
		dur, err := parseDurationNode(n)
		if err != nil {
			d.fail(n.Line, path, "%s", err.Error())
			return
		}
		v.SetInt(int64(dur))
		return
	case modelConfigsType:
		d.visits += len(n.Content)
		mc, probs := parseModelConfigs(n, path)
		for _, p := range probs {
			d.fail(p.Line, p.Field, "%s", p.Msg)
		}
		if len(probs) == 0 {
			v.Set(reflect.ValueOf(mc))
		}
		return
	case valuesType:
		d.visits += len(n.Content)
		vals, errs := parseValues(n)
		for _, e := range errs {
			d.fail(e.line, path+e.sub, "%s", e.msg)
		}
		if len(errs) == 0 {
			if n.Kind == yaml.SequenceNode {
				for i, e := range n.Content {
					d.lines[fmt.Sprintf("%s[%d]", path, i)] = followAlias(e).Line
				}
			}
			v.Set(reflect.ValueOf(vals))
		}
		return
	}
	switch {
	case path == "cost.constraints" && n.Kind == yaml.MappingNode:
		d.decodeModelAnalyzerConstraints(n, v, path)
		return
	case path == "cost.objectives" && n.Kind != yaml.MappingNode:
		d.decodeModelAnalyzerObjectives(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	default:
		d.decodeScalar(n, v, path)
	}
}

type fieldInfo struct {
	name  string
	index int
}

func yamlFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.PkgPath != "" {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, fieldInfo{name: name, index: i})
	}
	return out
}

// pairs returns a mapping's key/value pairs with YAML merge keys ("<<")
// expanded; keys written in the mapping itself win over merged ones.
func (d *decoder) pairs(n *yaml.Node, path string) [][2]*yaml.Node {
	var explicit, merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			m := d.visit(val, path)
			if m == nil {
				continue
			}
			var srcs []*yaml.Node
			switch m.Kind {
			case yaml.MappingNode:
				srcs = []*yaml.Node{m}
			case yaml.SequenceNode:
				for _, e := range m.Content {
					if e = d.visit(e, path); e != nil {
						srcs = append(srcs, e)
					}
				}
			}
			for _, s := range srcs {
				if s.Kind != yaml.MappingNode {
					d.fail(s.Line, path, "a merge (<<) needs a mapping, got %s", describe(s))
					continue
				}
				merged = append(merged, d.pairs(s, path)...)
			}
			continue
		}
		explicit = append(explicit, [2]*yaml.Node{k, val})
	}
	if len(merged) == 0 {
		return explicit
	}
	have := map[string]bool{}
	for _, p := range explicit {
		have[p[0].Value] = true
	}
	out := explicit
	for _, p := range merged {
		if !have[p[0].Value] {
			have[p[0].Value] = true
			out = append(out, p)
		}
	}
	return out
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "want a mapping (key: value lines), got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	d.entries(n, path, func(k, val *yaml.Node, fp string) {
		idx := -1
		for _, f := range fields {
			if f.name == k.Value {
				idx = f.index
				break
			}
		}
		if idx < 0 {
			d.fail(k.Line, fp, "unknown field%s", suggest(k.Value, names))
			return
		}
		d.lines[fp] = k.Line
		d.decode(val, v.Field(idx), fp)
	})
}

// entries calls fn for each key of a mapping with its value and field
// path, after checking that the key is a plain name given once.
func (d *decoder) entries(n *yaml.Node, path string, fn func(k, val *yaml.Node, fp string)) {
	firstAt := map[string]int{}
	for _, p := range d.pairs(n, path) {
		k := d.visit(p[0], path)
		if k == nil {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k.Line, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		fp := joinPath(path, k.Value)
		if l, dup := firstAt[k.Value]; dup {
			d.fail(k.Line, fp, "given twice (first at line %d)", l)
			continue
		}
		firstAt[k.Value] = k.Line
		fn(k, p[1], fp)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	elems := n.Content
	if n.Kind == yaml.ScalarNode {
		elems = []*yaml.Node{n} // a single value stands for a list of one
	} else if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, "want a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(elems), len(elems))
	for i, e := range elems {
		fp := fmt.Sprintf("%s[%d]", path, i)
		if e.Kind != yaml.AliasNode {
			d.lines[fp] = e.Line
		}
		d.decode(e, out.Index(i), fp)
	}
	v.Set(out)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "want a mapping, got %s", describe(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.fail(n.Line, path, "internal error: map key type %s", v.Type().Key())
		return
	}
	out := reflect.MakeMap(v.Type())
	d.entries(n, path, func(k, val *yaml.Node, fp string) {
		d.lines[fp] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, fp)
		out.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	})
	v.Set(out)
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
	default:
		d.fail(n.Line, path, "internal error: cannot decode into %s", v.Type())
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, "want %s, got %s", kindName(v.Kind()), describe(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(n.Line, path, "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Float32, reflect.Float64:
		x, err := scalarFloat(n)
		if err != nil {
			d.fail(n.Line, path, "%s", err.Error())
			return
		}
		v.SetFloat(x)
	default:
		i, err := scalarInt(n)
		if err == nil && v.OverflowInt(i) {
			err = fmt.Errorf("%d is too large", i)
		}
		if err != nil {
			d.fail(n.Line, path, "%s", err.Error())
			return
		}
		v.SetInt(i)
	}
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "an integer"
	}
}

func followAlias(n *yaml.Node) *yaml.Node {
	// A short bound: aliases point at anchored nodes, which are not aliases
	// themselves; the bound only guards against malformed trees.
	for i := 0; i < 16 && n != nil && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// describe names what the user wrote, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
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
	return "an empty document"
}

func scalarFloat(n *yaml.Node) (float64, error) {
	n = followAlias(n)
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("want a number, got %s", describe(n))
	}
	var x float64
	if t := n.ShortTag(); (t != "!!int" && t != "!!float") || n.Decode(&x) != nil {
		return 0, fmt.Errorf("want a number, got %s", describe(n))
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("want a finite number, got %s", describe(n))
	}
	return x, nil
}

func scalarInt(n *yaml.Node) (int64, error) {
	n = followAlias(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		return 0, fmt.Errorf("want an integer, got %s (out of range)", describe(n))
	}
	// 2.0 is an integer written as a float; 2.5 is not.
	x, err := scalarFloat(n)
	if err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
		return 0, fmt.Errorf("want an integer, got %s", describe(n))
	}
	return int64(x), nil
}

// suggest returns ` (did you mean "x"?)` for the closest name, or the list
// of valid names when none is close.
func suggest(got string, valid []string) string {
	best, bestD := "", math.MaxInt
	norm := strings.ReplaceAll(strings.ToLower(got), "-", "_")
	for _, v := range valid {
		if d := editdist.Levenshtein(norm, v); d < bestD {
			best, bestD = v, d
		}
	}
	if best != "" && bestD <= max(1, len(got)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (valid: %s)", strings.Join(valid, ", "))
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a yaml parser error into a located Problem.
func syntaxProblem(file string, err error) Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return Problem{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// decodeModelAnalyzerConstraints reads constraints written as Model
// Analyzer writes them, a mapping of figure → {min: X, max: Y}, into
// expressions ("perf_latency_p99: {max: 100}" is "perf_latency_p99 <=
// 100"), in the figure's default unit (Model Analyzer's: ms, inferences/s,
// MB). Each expression is located at its figure's line.
func (d *decoder) decodeModelAnalyzerConstraints(n *yaml.Node, v reflect.Value, path string) {
	var out []string
	d.entries(n, path, func(k, val *yaml.Node, fp string) {
		val = d.visit(val, fp)
		if val == nil {
			return
		}
		if val.Kind != yaml.MappingNode {
			d.fail(val.Line, fp, "want {min: X} or {max: Y} (Model Analyzer's form), got %s", describe(val))
			return
		}
		n0 := len(out)
		d.entries(val, fp, func(bk, bv *yaml.Node, bp string) {
			var op string
			switch bk.Value {
			case "min":
				op = ">="
			case "max":
				op = "<="
			default:
				d.fail(bk.Line, bp, "unknown bound%s", suggest(bk.Value, []string{"min", "max"}))
				return
			}
			x, err := scalarFloat(bv)
			if err != nil {
				d.fail(bv.Line, bp, "%s", err.Error())
				return
			}
			d.lines[fmt.Sprintf("%s[%d]", path, len(out))] = bk.Line
			out = append(out, fmt.Sprintf("%s %s %s", k.Value, op, fmtFloat(x)))
		})
		if len(out) == n0 && len(val.Content) == 0 {
			d.fail(val.Line, fp, "give min or max")
		}
	})
	v.Set(reflect.ValueOf(out))
}

// decodeModelAnalyzerObjectives reads objectives written as a list of
// figures (Model Analyzer's equal weights) or a single figure.
func (d *decoder) decodeModelAnalyzerObjectives(n *yaml.Node, v reflect.Value, path string) {
	elems := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		elems = n.Content
	}
	out := map[string]float64{}
	for i, e := range elems {
		fp := fmt.Sprintf("%s[%d]", path, i)
		e = d.visit(e, fp)
		if e == nil {
			continue
		}
		if e.Kind != yaml.ScalarNode || e.ShortTag() == "!!null" {
			d.fail(e.Line, fp, "want a figure name, got %s", describe(e))
			continue
		}
		if _, dup := out[e.Value]; dup {
			d.fail(e.Line, fp, "%q is listed twice", e.Value)
			continue
		}
		d.lines[joinPath(path, e.Value)] = e.Line
		out[e.Value] = 1
	}
	v.Set(reflect.ValueOf(out))
}
