package scenarios

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

func TestBuiltinsParseAndValidate(t *testing.T) {
	wantPoints := map[string]int{
		"quickstart":        12, // gpus 2 × instances 2 × clients 3
		"deepclean-online":  12, // rate 4 × clients 3
		"deepclean-offline": 6,  // servers 2 × clients 3
		"ensemble":          6,  // instances 2 × clients 3
		"ci-gate":           2,  // instances 2
		"ci-gate-12":        12, // instances 3 × clients 4
		"sim-validation":    24, // gpus 3 × instances 2 × clients 4
		"batching-delay":    12, // max_queue_delay 4 × clients 3
	}
	names := List()
	if !slices.Equal(names, slices.Sorted(func(yield func(string) bool) {
		for n := range wantPoints {
			if !yield(n) {
				return
			}
		}
	})) {
		t.Fatalf("List() = %v, want the built-ins %v", names, wantPoints)
	}
	for _, name := range names {
		s, err := Builtin(name)
		if err != nil {
			t.Fatalf("Builtin(%s): %v", name, err)
		}
		if s.Name != name {
			t.Errorf("%s: name: key is %q", name, s.Name)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
		if got := len(s.Points()); got != wantPoints[name] {
			t.Errorf("%s: %d points, want %d", name, got, wantPoints[name])
		}
		if s.Description == "" {
			t.Errorf("%s: no description", name)
		}
		r, err := Resolve(name)
		if err != nil || r.Hash() != s.Hash() {
			t.Errorf("Resolve(%s) = %v, %v; want the built-in", name, r, err)
		}
	}
}

func TestBuiltinContents(t *testing.T) {
	q, err := Builtin("quickstart")
	if err != nil {
		t.Fatal(err)
	}
	if q.Workload.Model != "mlp" || q.Workload.Mode != workload.ModeClosed || q.Workload.RPC != workload.RPCUnary {
		t.Errorf("quickstart workload = %+v", q.Workload)
	}
	if q.Measure.Warmup.D() != 300*time.Millisecond || q.Measure.Window.D() != 500*time.Millisecond ||
		q.Measure.StableWindows != 2 || q.Measure.MaxWindows != 4 {
		t.Errorf("quickstart measure = %+v", q.Measure)
	}
	// The whole sweep must stay well inside 2 minutes.
	perPoint := q.Measure.Warmup.D() + time.Duration(q.Measure.MaxWindows)*q.Measure.Window.D()
	if total := time.Duration(len(q.Points())) * perPoint; total > 90*time.Second {
		t.Errorf("quickstart worst case %v, want well under 2m", total)
	}
	if q.Cost.Prices.GPUHour["emulated"] != 2.50 || q.Cost.Prices.NodeHour != 0.50 || q.Cost.Objective != "usd_per_million" ||
		!slices.Equal(q.Cost.Constraints, []string{"p99 <= 20ms"}) {
		t.Errorf("quickstart cost = %+v", q.Cost)
	}
	if got := q.Varied(); !slices.Equal(got, []string{"gpus", "instances", "clients"}) {
		t.Errorf("quickstart Varied = %v", got)
	}

	on, err := Builtin("deepclean-online")
	if err != nil {
		t.Fatal(err)
	}
	if w := on.Workload; w.Model != "stream-e2e" || !w.Sequence || w.RPC != workload.RPCStream || w.Mode != workload.ModeOpen ||
		w.Arrival != workload.ArrivalFrames || w.Stream != (Stream{SampleRateHz: 4096, KernelS: 1, Channels: 21}) {
		t.Errorf("deepclean-online workload = %+v", w)
	}
	if got := on.Workload.Stream.SamplesPerRequest(16); got != 256 {
		t.Errorf("SamplesPerRequest(16) = %d, want 256", got)
	}

	off, err := Builtin("deepclean-offline")
	if err != nil {
		t.Fatal(err)
	}
	if w := off.Workload; w.Mode != workload.ModeClosed || w.DataSeconds != 64 || w.Arrival != "" {
		t.Errorf("deepclean-offline workload = %+v", w)
	}

	ci, err := Builtin("ci-gate")
	if err != nil {
		t.Fatal(err)
	}
	if ci.Measure.Trials != 8 || ci.Measure.Duration.D() != 150*time.Millisecond || ci.Gate.MinTrials != 5 ||
		ci.Gate.Thresholds["throughput"] != "-5%" || ci.Gate.Thresholds["p99"] != "+10%" || ci.Gate.Thresholds["p50"] != "+5%" ||
		ci.Server.Calibrated != (Calibrated{BaseUS: 2000}) {
		t.Errorf("ci-gate = %+v %+v %+v", ci.Measure, ci.Gate, ci.Server)
	}
}

func TestResolveUnknownListsBuiltins(t *testing.T) {
	_, err := Resolve("quikstart")
	if err == nil || !strings.Contains(err.Error(), "quickstart") || !strings.Contains(err.Error(), "ci-gate") {
		t.Fatalf("Resolve(unknown) = %v, want an error listing the built-ins", err)
	}
	if _, err := Resolve("no/such/file.yaml"); err == nil || !strings.Contains(err.Error(), "no/such/file.yaml") {
		t.Fatalf("Resolve(missing .yaml) = %v, want a file error", err)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(path, []byte("workload:\n  model: mlp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, load := range []func(string) (*Scenario, error){Load, Resolve} {
		s, err := load(path)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "mine" {
			t.Errorf("name = %q, want the file's base name", s.Name)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse([]byte("workload: {model: mlp}\n"), "min.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pts := s.Points()
	want := results.Point{GPUs: 0, Instances: 1, Clients: 1, Rate: 1, BatchSize: 1, Servers: 1}
	if len(pts) != 1 || pts[0] != want {
		t.Errorf("Points = %v, want [%v]", pts, want)
	}
	if v := s.Varied(); len(v) != 0 {
		t.Errorf("Varied = %v, want none", v)
	}
	m := s.Measure
	if m.Warmup.D() != time.Second || m.Window.D() != time.Second || m.StabilityTolerance != 0.1 ||
		m.StableWindows != 3 || m.MaxWindows != 10 || m.Trials != 1 || m.Duration != 0 {
		t.Errorf("measure defaults = %+v", m)
	}
	if s.Target.Kind != TargetEmbedded || s.Workload.Mode != workload.ModeClosed || s.Workload.RPC != workload.RPCUnary ||
		s.Workload.Arrival != "" || s.Search.Strategy != StrategyGrid || s.Gate.MinTrials != 5 {
		t.Errorf("defaults: %+v %+v %+v %+v", s.Target, s.Workload, s.Search, s.Gate)
	}
	if s.Measure.PointTimeout() < 30*time.Second {
		t.Errorf("PointTimeout = %v", s.Measure.PointTimeout())
	}
	open, err := Parse([]byte("workload: {model: mlp, mode: open}\n"), "open.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if open.Workload.Arrival != workload.ArrivalConstant {
		t.Errorf("open loop arrival = %q, want constant", open.Workload.Arrival)
	}
}

func TestPointsOrder(t *testing.T) {
	s, err := Parse([]byte(`
workload: {model: mlp}
dimensions:
  rate: [0.5, 2]
  clients: [1, 2]
  servers: [1, 3]
`), "order.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range s.Points() {
		got = append(got, strings.Join([]string{itoa(p.Servers), itoa(p.Clients), ftoa(p.Rate)}, "/"))
	}
	want := []string{"1/1/0.5", "1/1/2", "1/2/0.5", "1/2/2", "3/1/0.5", "3/1/2", "3/2/0.5", "3/2/2"}
	if !slices.Equal(got, want) {
		t.Errorf("order (servers/clients/rate) = %v, want %v", got, want)
	}
	if v := s.Varied(); !slices.Equal(v, []string{"clients", "rate", "servers"}) {
		t.Errorf("Varied = %v", v)
	}
}

func itoa(i int) string     { return ftoa(float64(i)) }
func ftoa(x float64) string { return fmtFloat(x) }

func TestRanges(t *testing.T) {
	cases := []struct {
		yaml string
		want []float64
	}{
		{"{from: 1, to: 8, step: 1}", []float64{1, 2, 3, 4, 5, 6, 7, 8}},
		{"{from: 1, to: 8, step: 3}", []float64{1, 4, 7}},
		{"{from: 0.1, to: 0.3, step: 0.1}", []float64{0.1, 0.2, 0.3}},
		{"{from: 1, to: 64, factor: 2}", []float64{1, 2, 4, 8, 16, 32, 64}},
		{"{from: 1, to: 50, factor: 2}", []float64{1, 2, 4, 8, 16, 32}},
		{"{from: 1, to: 1000, factor: 10}", []float64{1, 10, 100, 1000}},
		{"{from: 4, to: 4, step: 1}", []float64{4}},
		{"[3, 1, 2]", []float64{3, 1, 2}},
		{"7", []float64{7}},
	}
	for _, c := range cases {
		s, err := Parse([]byte("workload: {model: mlp}\ndimensions:\n  rate: "+c.yaml+"\n"), "r.yaml")
		if err != nil {
			t.Errorf("%s: %v", c.yaml, err)
			continue
		}
		got, err := s.DimensionValues("rate")
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("rate: %s expands to %v, %v; want %v", c.yaml, got, err, c.want)
		}
	}
	if got, err := GeometricRange(2, 32, 4).Expand(); err != nil || !slices.Equal(got, []float64{2, 8, 32}) {
		t.Errorf("GeometricRange(2, 32, 4) = %v, %v", got, err)
	}
	if _, err := LinearRange(0, 1e6, 1).Expand(); err == nil {
		t.Error("a range of 1,000,001 values expanded without error")
	}
}

// TestErrorsNameFileLineField checks what a user sees for each kind of
// mistake: the file, the line of the offending key or value, the field.
func TestErrorsNameFileLineField(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error, each must appear
	}{
		{"unknown key", "workload:\n  model: mlp\ndimensions:\n  instanses: [1, 2]\n",
			[]string{`x.yaml:4: dimensions.instanses: unknown field (did you mean "instances"?)`}},
		{"unknown top-level key with no near name", "workload: {model: mlp}\nzzzzzzzz: 1\n",
			[]string{`x.yaml:2: zzzzzzzz: unknown field (valid: name, description, target,`}},
		{"bad type in a dimension", "workload:\n  model: mlp\ndimensions:\n  clients: four\n",
			[]string{`x.yaml:4: dimensions.clients: want a number, a list`, `got "four"`}},
		{"bad element type", "workload: {model: mlp}\ndimensions:\n  clients:\n    - 1\n    - two\n",
			[]string{`x.yaml:5: dimensions.clients[1]: want a number, got "two"`}},
		{"mapping where a scalar belongs", "workload:\n  model: {name: mlp}\n",
			[]string{`x.yaml:2: workload.model: want a string, got a mapping`}},
		{"float for an integer", "workload: {model: mlp}\nmeasure:\n  trials: 2.5\n",
			[]string{`x.yaml:3: measure.trials: want an integer, got "2.5"`}},
		{"string for a bool", "workload:\n  model: mlp\n  sequence: yes\n",
			[]string{`x.yaml:3: workload.sequence: want true or false, got "yes"`}},
		{"bad range: from > to", "workload: {model: mlp}\ndimensions:\n  clients: {from: 8, to: 1, step: 1}\n",
			[]string{`x.yaml:3: dimensions.clients: range: from (8) is greater than to (1)`}},
		{"bad range: step <= 0", "workload: {model: mlp}\ndimensions:\n  clients: {from: 1, to: 8, step: -1}\n",
			[]string{`x.yaml:3: dimensions.clients: range: step must be > 0`}},
		{"bad range: factor <= 1", "workload: {model: mlp}\ndimensions:\n  clients: {from: 1, to: 8, factor: 1}\n",
			[]string{`x.yaml:3: dimensions.clients: range: factor must be > 1`}},
		{"bad range: too many values", "workload: {model: mlp}\ndimensions:\n  rate: {from: 1, to: 20000, step: 1}\n",
			[]string{`x.yaml:3: dimensions.rate: range: 20000 values, more than 10000`}},
		{"bad range: unknown key", "workload: {model: mlp}\ndimensions:\n  rate: {from: 1, to: 2, stp: 1}\n",
			[]string{`x.yaml:3: dimensions.rate.stp: unknown field (did you mean "step"?)`}},
		{"bad range: missing to", "workload: {model: mlp}\ndimensions:\n  rate: {from: 1, step: 1}\n",
			[]string{`x.yaml:3: dimensions.rate: a range needs from and to`}},
		{"fractional integer dimension", "workload: {model: mlp}\ndimensions:\n  clients: [1, 1.5]\n",
			[]string{`x.yaml:3: dimensions.clients[1]: must be a whole number, got 1.5`}},
		{"fractional range of an integer dimension", "workload: {model: mlp}\ndimensions:\n  instances: {from: 1, to: 2, step: 0.5}\n",
			[]string{`x.yaml:3: dimensions.instances: must be a whole number, got 1.5`}},
		{"bad duration", "workload: {model: mlp}\nmeasure:\n  warmup: 5\n",
			[]string{`x.yaml:3: measure.warmup: want a duration such as "500ms" or "2s", got "5"`}},
		{"bad duration unit", "workload: {model: mlp}\nmeasure:\n  window: 2 seconds\n",
			[]string{`x.yaml:3: measure.window: want a duration`}},
		{"missing model", "dimensions:\n  clients: [1]\nworkload:\n  mode: closed\n",
			[]string{`x.yaml:3: workload.model: required`}},
		{"arrival in closed loop", "workload:\n  model: mlp\n  arrival: poisson\n",
			[]string{`x.yaml:3: workload.arrival: only applies in open loop`}},
		{"remote without urls", "target:\n  kind: remote\nworkload: {model: mlp}\n",
			[]string{`x.yaml:1: target.urls: a remote target needs`}},
		{"bad enum", "workload:\n  model: mlp\n  rpc: grpc\n",
			[]string{`x.yaml:3: workload.rpc: want one of unary, stream, got "grpc"`}},
		{"negative values", "workload: {model: mlp}\ndimensions:\n  clients: [-1]\nagents: -2\nmeasure:\n  warmup: -1s\n",
			[]string{`x.yaml:3: dimensions.clients[0]: must be at least 1, got -1`, `x.yaml:4: agents: must not be negative`,
				`x.yaml:6: measure.warmup: must not be negative`}},
		{"negative price", "workload: {model: mlp}\ncost:\n  prices:\n    node_hour: -1\n",
			[]string{`x.yaml:4: cost.prices.node_hour: must not be negative`}},
		{"empty constraint", "workload: {model: mlp}\ncost:\n  constraints: [\"p99 <= 5ms\", \"\"]\n",
			[]string{`x.yaml:3: cost.constraints[1]: must not be empty`}},
		{"gpus without emulation", "workload: {model: mlp}\ndimensions:\n  gpus: [1]\n",
			[]string{`x.yaml:3: dimensions.gpus: the embedded server has only emulated GPUs`}},
		{"stream rate must divide fs", "workload: {model: stream-e2e, sequence: true}\ndimensions:\n  rate: [3]\n",
			[]string{`x.yaml:3: dimensions.rate: rate 3 does not give a whole number of samples`}},
		{"duplicate key", "workload: {model: mlp}\nmeasure:\n  trials: 2\n  trials: 3\n",
			[]string{`x.yaml:4: measure.trials: given twice (first at line 3)`}},
		{"duplicate value", "workload: {model: mlp}\ndimensions:\n  clients: [1, 2, 1]\n",
			[]string{`x.yaml:3: dimensions.clients[2]: value 1 is listed twice`}},
		{"yaml syntax", "workload:\n  model: mlp\n dimensions: [\n",
			[]string{`x.yaml:`, `YAML syntax`}},
		{"two documents", "workload: {model: mlp}\n---\nworkload: {model: mlp}\n",
			[]string{`x.yaml:2: more than one YAML document`}},
		{"empty", "", []string{`x.yaml: empty file`}},
		{"not a mapping", "- 1\n- 2\n", []string{`x.yaml:1: want a mapping`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "x.yaml")
			if err == nil {
				t.Fatalf("no error for:\n%s", c.yaml)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Errorf("error is %T, want Problems", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestValidateCollectsAllProblems(t *testing.T) {
	_, err := Parse([]byte(`workload:
  mode: sideways
dimensions:
  servers: [0]
measure:
  trials: 0
`), "many.yaml")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	var fields []string
	for _, p := range ps {
		fields = append(fields, p.Field)
	}
	want := []string{"workload.model", "workload.mode", "dimensions.servers[0]", "measure.trials"}
	if !slices.Equal(fields, want) {
		t.Errorf("problems in fields %v, want %v (in file order):\n%v", fields, want, err)
	}
}

func TestValidateProgrammatic(t *testing.T) {
	s := Default()
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "workload.model") {
		t.Errorf("Default().Validate() = %v, want model required", err)
	}
	s.Name, s.Workload.Model = "go", "mlp"
	s.Dimensions.Clients = GeometricRange(1, 16, 2)
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if n := len(s.Points()); n != 5 {
		t.Errorf("%d points, want 5", n)
	}
	s.Measure.Trials = -1
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "scenario: measure.trials: must be at least 1") {
		t.Errorf("Validate = %v", err)
	}
}

func TestAnchorsAndMerges(t *testing.T) {
	s, err := Parse([]byte(`
workload: {model: mlp}
dimensions:
  clients: &counts [1, 2, 4]
  instances: *counts
measure: &m
  warmup: 10ms
  window: 20ms
`), "anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Points()); got != 9 {
		t.Errorf("%d points, want 9", got)
	}
	if s.Measure.Window.D() != 20*time.Millisecond {
		t.Errorf("window %v", s.Measure.Window)
	}
}

func TestHash(t *testing.T) {
	base := "workload: {model: mlp}\ndimensions:\n  clients: [1, 2, 4]\n"
	parse := func(y string) *Scenario {
		t.Helper()
		s, err := Parse([]byte(y), "h.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h := parse(base).Hash()
	if len(h) != 12 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Fatalf("Hash = %q, want 12 hex digits", h)
	}
	if parse(base).Hash() != h {
		t.Error("Hash differs between two parses of the same file")
	}
	same := []string{
		"# a comment\n" + base,
		"name: other\ndescription: words\n" + base,
		base + "cost:\n  prices: {node_hour: 9}\ngate:\n  thresholds: {p99: '+1%'}\n",
		"workload: {model: mlp}\ndimensions:\n  clients: {from: 1, to: 4, factor: 2}\n",
		base + "measure:\n  warmup: 1s\n", // the default, written out
	}
	for _, y := range same {
		if got := parse(y).Hash(); got != h {
			t.Errorf("Hash changed to %s for a scenario that measures the same:\n%s", got, y)
		}
	}
	differ := []string{
		"workload: {model: mlp}\ndimensions:\n  clients: [1, 2, 8]\n",
		"workload: {model: mlp}\ndimensions:\n  clients: [1, 2, 4]\n  rate: [2]\n",
		"workload: {model: calibrated}\ndimensions:\n  clients: [1, 2, 4]\n",
		base + "measure:\n  window: 2s\n",
	}
	for _, y := range differ {
		if parse(y).Hash() == h {
			t.Errorf("Hash did not change for:\n%s", y)
		}
	}
}

func TestYAMLAndJSONRoundTrip(t *testing.T) {
	for _, name := range List() {
		s, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		y := s.YAML()
		back, err := Parse(y, name+".canonical.yaml")
		if err != nil {
			t.Fatalf("%s: canonical YAML does not parse: %v\n%s", name, err, y)
		}
		if back.Hash() != s.Hash() || string(back.YAML()) != string(y) || back.Name != s.Name ||
			!reflect.DeepEqual(back.Cost, s.Cost) || !reflect.DeepEqual(back.Gate, s.Gate) {
			t.Errorf("%s: YAML round trip changed the scenario:\n%s\n---\n%s", name, y, back.YAML())
		}
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%s: json: %v", name, err)
		}
		var fromJSON Scenario
		if err := json.Unmarshal(j, &fromJSON); err != nil {
			t.Fatalf("%s: json back: %v\n%s", name, err, j)
		}
		if fromJSON.Hash() != s.Hash() || fromJSON.Validate() != nil {
			t.Errorf("%s: JSON round trip changed the scenario:\n%s", name, j)
		}
	}
	// A range stays a range in the canonical form.
	s, err := Parse([]byte("workload: {model: mlp}\ndimensions:\n  clients: {from: 1, to: 64, factor: 2}\n"), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(s.YAML()), "clients: {from: 1, to: 64, factor: 2}") {
		t.Errorf("canonical YAML lost the range:\n%s", s.YAML())
	}
}

func TestValuesAndDurationCodecs(t *testing.T) {
	var d struct {
		V Values   `yaml:"v" json:"v"`
		W Values   `yaml:"w" json:"w"`
		D Duration `yaml:"d" json:"d"`
	}
	if err := yaml.Unmarshal([]byte("v: {from: 2, to: 8, factor: 2}\nw: 3\nd: 1m30s\n"), &d); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.V.Expand(); !slices.Equal(got, []float64{2, 4, 8}) || !slices.Equal(d.W.List, []float64{3}) || d.D.D() != 90*time.Second {
		t.Errorf("yaml.Unmarshal gave %+v", d)
	}
	if err := yaml.Unmarshal([]byte("d: soon\n"), &d); err == nil || !strings.Contains(err.Error(), `got "soon"`) {
		t.Errorf("bad duration: %v", err)
	}
	if err := yaml.Unmarshal([]byte("v: {from: 1, to: 2}\n"), &d); err == nil || !strings.Contains(err.Error(), "step") {
		t.Errorf("range without step: %v", err)
	}
	d.W = Values{} // unset stays unset through JSON
	j, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(j) != `{"v":{"from":2,"to":8,"factor":2},"w":null,"d":"1m30s"}` {
		t.Errorf("json = %s", j)
	}
	var back struct {
		V Values   `json:"v"`
		W Values   `json:"w"`
		D Duration `json:"d"`
	}
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	if back.W.IsSet() || back.V.Range == nil || *back.V.Range != *d.V.Range || back.D != d.D {
		t.Errorf("json round trip = %+v", back)
	}
}
