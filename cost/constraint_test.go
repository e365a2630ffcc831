package cost

import (
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

func TestParseConstraintUnits(t *testing.T) {
	cases := []struct {
		in     string
		figure string
		op     string
		value  float64
	}{
		{"p99 <= 50ms", "p99", "<=", 50},
		{"p99<20", "p99", "<", 20},
		{"p50 <= 500us", "p50", "<=", 0.5},
		{"p50 <= 500 µs", "p50", "<=", 0.5},
		{"p999 < 0.05s", "p999", "<", 50},
		{"mean <= 1e2ms", "mean", "<=", 100},
		{"throughput >= 20000/s", "throughput", ">=", 20000},
		{"throughput > 60000/min", "throughput", ">", 1000},
		{"throughput_rps >= 3600/h", "throughput_rps", ">=", 1},
		{"data_rate >= 1", "data_rate", ">=", 1},
		{"data_rate >= 1.5x", "data_rate", ">=", 1.5},
		{"gpu_util >= 50%", "gpu_util", ">=", 50},
		{"cpu_util < 80", "cpu_util", "<", 80},
		{"usd_per_hour <= 10", "usd_per_hour", "<=", 10},
		{"usd_per_million <= $0.5", "usd_per_million", "<=", 0.5},
		{"errors <= 0", "errors", "<=", 0},
	}
	for _, c := range cases {
		got, err := ParseConstraint(c.in)
		if err != nil {
			t.Errorf("ParseConstraint(%q): %v", c.in, err)
			continue
		}
		if got.Figure != c.figure || got.Op != c.op {
			t.Errorf("ParseConstraint(%q) = %s %s, want %s %s", c.in, got.Figure, got.Op, c.figure, c.op)
		}
		near(t, c.in, got.Value, c.value, 1e-12)
	}
}

func TestParseConstraintErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"p99 <= fast", `constraint "p99 <= fast": value "fast" is not a number`},
		{"p98 <= 5ms", `unknown figure "p98"`},
		{"p99 == 5", `operator "==" is not supported`},
		{"p99 != 5", `operator "!=" is not supported`},
		{"p99 5ms", "no comparison operator"},
		{"<= 5ms", "no figure before the operator"},
		{"p99 <=", "no value after the operator"},
		{"p99 <= 5 furlongs", `unit "furlongs" is not valid here (want ms, s, us, µs or none)`},
		{"throughput >= 5ms", `unit "ms" is not valid here (want /h, /min, /s or none)`},
		{"p99 <= -5ms", `value "-5ms" is negative`},
		{"errors <= 5%", `unit "%": this figure takes a plain number`},
	}
	for _, c := range cases {
		_, err := ParseConstraint(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseConstraint(%q) error = %v, want it to contain %q", c.in, err, c.want)
		}
	}
}

func TestSpecErrorsNameTheConstraint(t *testing.T) {
	spec := Spec{Prices: examplePrices(), Constraints: []string{"p99 <= 50ms", "p99 <= fast"}}
	err := spec.Validate()
	want := `constraint 2 "p99 <= fast": value "fast" is not a number`
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want %s", err, want)
	}

	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{Prices: examplePrices(), Objective: "cheapness"}, `objective: unknown figure "cheapness"`},
		{Spec{Prices: examplePrices(), Objective: "weighted"}, `objective "weighted" needs weights`},
		{Spec{Prices: examplePrices(), Objective: "weighted", Weights: map[string]float64{"p99": 1, "speed": 2}}, `weights: unknown figure "speed"`},
		{Spec{Prices: examplePrices(), Objective: "p99", Weights: map[string]float64{"p99": 1}}, `weights are set but objective is "p99"`},
		{Spec{}, "prices are all zero"},
	}
	for _, c := range cases {
		if err := c.spec.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want it to contain %q", c.spec, err, c.want)
		}
	}
	// Zero prices are fine when nothing reads them.
	if err := (Spec{Objective: "p99"}).Validate(); err != nil {
		t.Errorf("zero prices with a latency objective: %v", err)
	}
}

func TestConstraintMetAndViolation(t *testing.T) {
	cases := []struct {
		in        string
		v         float64
		met       bool
		violation string
	}{
		{"p99 <= 20ms", 41.2, false, "p99 41.2ms > 20ms"},
		{"p99 <= 20ms", 20, true, ""},
		{"p99 < 20ms", 20, false, "p99 20ms >= 20ms"},
		{"throughput >= 20000/s", 15234.6, false, "throughput 15235/s < 20000/s"},
		{"gpu_util > 50%", 50, false, "gpu_util 50% <= 50%"},
		{"usd_per_hour <= 10", 12.5, false, "usd_per_hour $12.5 > $10"},
	}
	for _, c := range cases {
		con, err := ParseConstraint(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := con.Met(c.v); got != c.met {
			t.Errorf("%q.Met(%v) = %v, want %v", c.in, c.v, got, c.met)
		}
		if !c.met {
			if got := con.violation(c.v); got != c.violation {
				t.Errorf("%q violation at %v = %q, want %q", c.in, c.v, got, c.violation)
			}
		}
	}
}

// A point whose server refused some requests for overload is measured:
// rejection_rate is a figure of its own, in percent, and a constraint on
// it separates the points that kept up from those that did not.
func TestRejectionRateFigure(t *testing.T) {
	c, err := ParseConstraint("rejection_rate <= 1%")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rate float64
		met  bool
	}{{0, true}, {0.01, true}, {0.05, false}} {
		rec := results.Record{Measurement: &results.Measurement{ThroughputIPS: 900, RejectionRate: tc.rate}}
		v, err := Figure(rec, Expense{}, "rejection_rate")
		if err != nil {
			t.Fatal(err)
		}
		near(t, "rejection_rate", v, 100*tc.rate, 1e-12)
		if c.Met(v) != tc.met {
			t.Errorf("rate %g: %s met = %v, want %v", tc.rate, c, c.Met(v), tc.met)
		}
	}
}
