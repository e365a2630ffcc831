package scenarios

import (
	"errors"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every failure is
// a located Problems, and that whatever parses survives its canonical YAML.
// The normal test run only runs the seeds; fuzz with
//
//	go test ./scenarios -run '^$' -fuzz FuzzParse -fuzztime 20s
func FuzzParse(f *testing.F) {
	for _, name := range List() {
		data, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"~",
		"[]",
		"workload: {model: mlp}",
		"workload: {model: mlp}\ndimensions: {clients: {from: 1, to: 1e300, step: 1e-300}}",
		"workload: {model: mlp}\ndimensions: {rate: {from: 1e-300, to: 1e300, factor: 1.0000001}}",
		"workload: {model: mlp}\ndimensions: {clients: [1, .nan, .inf]}",
		"workload: {model: mlp}\nmeasure: {warmup: 9999999999h}",
		"workload: {model: mlp, sequence: true}\ndimensions: {rate: [0.001, 4096, 5000]}",
		"a: &a [*a, *a]\nb: &b [*a, *a]\nc: [*b, *b]",
		"<<: {workload: {model: mlp}}\n<<: [1]",
		"workload: !!binary aGVsbG8=",
		"workload:\n  model: mlp\n dimensions: [",
		"workload: {model: mlp}\n---\n---",
		"? [complex, key]\n: value",
		"measure: {trials: 99999999999999999999999}",
		"gate: {thresholds: {'': ''}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %T %v is not a non-empty Problems", err, err)
			}
			for _, p := range ps {
				if p.File != "fuzz.yaml" || p.Msg == "" {
					t.Fatalf("problem without file or message: %+v", p)
				}
			}
			return
		}
		y := s.YAML()
		back, err := Parse(y, "canonical.yaml")
		if err != nil {
			t.Fatalf("canonical YAML of a valid scenario does not parse: %v\n%s", err, y)
		}
		if back.Hash() != s.Hash() || string(back.YAML()) != string(y) {
			t.Fatalf("canonical YAML round trip changed the scenario:\n%s\n---\n%s", y, back.YAML())
		}
		if n := s.gridSize(); n <= 10000 && len(s.Points()) != int(n) {
			t.Fatalf("Points has %d points, grid size %v", len(s.Points()), n)
		}
	})
}
