package cost

import (
	"math"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

func TestExpenseArithmetic(t *testing.T) {
	p := Prices{
		GPUHour:                 map[string]float64{"T4": 0.4, "default": 1},
		GPUType:                 "T4",
		NodeHour:                0.2,
		PerMillionRequests:      2,
		EgressPerGB:             0.09,
		EgressBytesPerInference: 1000,
	}
	r := rec(results.Point{GPUs: 2, Servers: 3, BatchSize: 8}, 1000, 10)
	r.Measurement.DataRate = 0.5
	e := ExpenseOf(r, p)
	// 3 servers × (2 GPUs × 0.4 + 0.2) = 3.0 USD/h.
	near(t, "USDPerHour", e.USDPerHour, 3.0, 1e-12)
	// Infrastructure: 3.0 / (3600 s × 1000/s) × 1e6 = 0.8333…
	// Requests: 2 USD/M requests × 125/1000 requests per inference = 0.25.
	// Egress: 0.09 USD/GB × 1000 B × 1e6 / 1e9 = 0.09.
	near(t, "USDPerMillion", e.USDPerMillion, 3.0/3.6+0.25+0.09, 1e-12)
	// Hourly spend 3.0 + 3.4e-7 USD × 3.6e6 inferences = 4.224; / 0.5 data-s per s.
	near(t, "USDPerDataHour", e.USDPerDataHour, 4.224/0.5, 1e-12)
}

func TestExpenseSizeAndPriceLookup(t *testing.T) {
	p := Prices{GPUHour: map[string]float64{"default": 1.5}, GPUType: "H100", NodeHour: 0.25}
	cases := []struct {
		name string
		pt   results.Point
		want float64
	}{
		{"unknown type uses default; servers 0 counts as 1", results.Point{GPUs: 2}, 2*1.5 + 0.25},
		{"negative GPUs count as none", results.Point{GPUs: -1, Servers: 2}, 2 * 0.25},
		{"CPU only", results.Point{Servers: 4}, 1.0},
	}
	for _, c := range cases {
		e := ExpenseOf(rec(c.pt, 100, 1), p)
		near(t, c.name, e.USDPerHour, c.want, 1e-12)
	}
	// A stream workload's expense is per hour of data; none without a data rate.
	if e := ExpenseOf(rec(results.Point{GPUs: 1}, 100, 1), p); e.USDPerDataHour != 0 {
		t.Errorf("USDPerDataHour without a data rate = %v, want 0", e.USDPerDataHour)
	}
	// Zero throughput at a non-zero price costs infinitely much per inference.
	if e := ExpenseOf(rec(results.Point{GPUs: 1}, 0, 1), p); !math.IsInf(e.USDPerMillion, 1) {
		t.Errorf("USDPerMillion at zero throughput = %v, want +Inf", e.USDPerMillion)
	}
	// Without measured request rate, the batch size gives requests per inference.
	q := Prices{PerMillionRequests: 4}
	r := rec(results.Point{BatchSize: 4}, 1000, 1)
	r.Measurement.ThroughputRPS = 0
	near(t, "request charge from batch size", ExpenseOf(r, q).USDPerMillion, 1, 1e-12)
}

func TestDefaultPricesAreUsable(t *testing.T) {
	p := DefaultPrices()
	if err := p.validate(true); err != nil {
		t.Fatalf("DefaultPrices invalid: %v", err)
	}
	t4, h200 := p.GPUHour["T4"], p.GPUHour["H200"]
	if t4 < 0.2 || t4 > 1 || h200 <= t4 || p.NodeHour <= 0 {
		t.Errorf("DefaultPrices out of their documented shape: %+v", p)
	}
	// The map is fresh each call: editing one copy must not change another.
	p.GPUHour["T4"] = 99
	if DefaultPrices().GPUHour["T4"] == 99 {
		t.Error("DefaultPrices shares its map between calls")
	}
}

func TestMissingGPUPriceIsAnError(t *testing.T) {
	spec := Spec{Prices: Prices{GPUHour: map[string]float64{"A100": 3}, GPUType: "T4", NodeHour: 1}}
	_, err := Evaluate([]results.Record{rec(results.Point{GPUs: 1}, 10, 1)}, spec)
	if err == nil || !strings.Contains(err.Error(), `no gpu_hour for gpu_type "T4"`) {
		t.Fatalf("err = %v, want a missing gpu_hour error", err)
	}
	// CPU-only points need no GPU price.
	if _, err := Evaluate([]results.Record{rec(results.Point{}, 10, 1)}, spec); err != nil {
		t.Fatalf("CPU-only point: %v", err)
	}
	bad := Spec{Prices: Prices{NodeHour: -1}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "node_hour") {
		t.Errorf("negative node_hour: err = %v", err)
	}
}

func TestExpenseUsesTheRealAllocation(t *testing.T) {
	p := Prices{GPUHour: map[string]float64{"default": 1, "NVIDIA-H100-80GB-HBM3": 4}, NodeHour: 0.5}
	rec := results.Record{Point: results.Point{GPUs: 1, Servers: 2},
		Allocation:  &results.Allocation{GPUProduct: "NVIDIA-H100-80GB-HBM3", GPUs: 2, Nodes: 1},
		Measurement: &results.Measurement{ThroughputIPS: 1000, ThroughputRPS: 1000}}
	// 2 H100s at 4 $/h + 2 servers' node charge at 0.5 $/h.
	if got := ExpenseOf(rec, p).USDPerHour; got != 9 {
		t.Fatalf("USD/hour of the real allocation = %v, want 9", got)
	}
	rec.Allocation.GPUProduct = "unpriced"
	if got := ExpenseOf(rec, p).USDPerHour; got != 3 {
		t.Fatalf("unpriced product falls back to the default price: %v, want 3", got)
	}
}
