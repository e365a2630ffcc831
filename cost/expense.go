package cost

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/iaasbench/iaasbench/results"
)

// DefaultPrices returns EXAMPLE prices: rough on-demand cloud magnitudes
// chosen so that expense figures have a plausible scale out of the box.
// They are editable examples, never current quotes; put real prices in the
// scenario's cost.prices before trusting any dollar figure.
//
// Example GPU-hours (USD): T4-class 0.40, L4 0.70, A10G 1.00, A100 3.00,
// H100 4.50, H200 6.00; "default" (any other type, and emulated GPUs
// unless GPUType says otherwise) is priced as a T4-class GPU. A node (the
// host's vCPUs and memory) is 0.20 per hour. No per-request or egress
// charges.
func DefaultPrices() Prices {
	return Prices{
		GPUHour: map[string]float64{
			"default": 0.40,
			"T4":      0.40,
			"L4":      0.70,
			"A10G":    1.00,
			"A100":    3.00,
			"H100":    4.50,
			"H200":    6.00,
		},
		GPUType:  "default",
		NodeHour: 0.20,
	}
}

// gpuHour is the price of one GPU-hour of the deployment's GPU type.
func (p Prices) gpuHour() (float64, error) {
	if v, ok := p.GPUHour[p.GPUType]; ok && p.GPUType != "" {
		return v, nil
	}
	if v, ok := p.GPUHour["default"]; ok {
		return v, nil
	}
	keys := make([]string, 0, len(p.GPUHour))
	for k := range p.GPUHour {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return 0, fmt.Errorf("prices: no gpu_hour for gpu_type %q and no \"default\" (have: %s)", p.GPUType, strings.Join(keys, ", "))
}

// validate rejects prices that cannot be right. needGPU says whether some
// point uses GPUs, so that a missing GPU price is an error only then.
func (p Prices) validate(needGPU bool) error {
	for k, v := range p.GPUHour {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("prices: gpu_hour[%q] = %v: want a finite price >= 0", k, v)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"node_hour", p.NodeHour}, {"per_million_requests", p.PerMillionRequests}, {"egress_per_gb", p.EgressPerGB}, {"egress_bytes_per_inference", p.EgressBytesPerInference}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("prices: %s = %v: want a finite value >= 0", f.name, f.v)
		}
	}
	if needGPU {
		if _, err := p.gpuHour(); err != nil {
			return err
		}
	}
	return nil
}

// zero reports whether every price is zero, so that an expense objective
// would rank all points equal.
func (p Prices) zero() bool {
	for _, v := range p.GPUHour {
		if v != 0 {
			return false
		}
	}
	return p.NodeHour == 0 && p.PerMillionRequests == 0 && (p.EgressPerGB == 0 || p.EgressBytesPerInference == 0)
}

var errNoMeasurement = errors.New("no measurement")

// Expense is what one point costs to run.
type Expense struct {
	// USDPerHour is the deployment's size priced by the hour: servers ×
	// (GPUs per server × GPU-hour + node-hour). Per-request and egress
	// charges are not in it; they depend on traffic, not size.
	USDPerHour float64 `json:"usd_per_hour"`
	// USDPerMillion is USD per million inferences at the measured
	// throughput, including per-request and egress charges. +Inf when the
	// point served nothing but still costs something.
	USDPerMillion float64 `json:"usd_per_million"`
	// USDPerDataHour is USD per hour of stream data processed: the hourly
	// spend at the measured throughput (USDPerHour plus request and egress
	// charges) divided by DataRate. Zero when the point has no data rate.
	USDPerDataHour float64 `json:"usd_per_data_hour"`
}

// ExpenseOf prices one record. The deployment's size comes from its
// point: Servers (at least 1) × GPUs per server (at least 0) at
// p.GPUHour[p.GPUType] (or "default"), plus Servers × NodeHour. A GPU type
// with no price counts as free here; Evaluate rejects such prices.
func ExpenseOf(rec results.Record, p Prices) Expense {
	var ips, rps, dataRate float64
	if m := rec.Measurement; m != nil {
		ips, rps, dataRate = m.ThroughputIPS, m.ThroughputRPS, m.DataRate
	}
	if a := rec.Allocation; a != nil {
		return allocatedExpense(*a, rec.Point, ips, rps, dataRate, p)
	}
	return expenseAt(rec.Point, ips, rps, dataRate, p)
}

// allocatedExpense prices what a target really allocated: its GPUs at the
// price of their product (when the prices name it, else gpu_type's) and a
// node charge per server.
func allocatedExpense(a results.Allocation, pt results.Point, ips, rps, dataRate float64, p Prices) Expense {
	if _, ok := p.GPUHour[a.GPUProduct]; ok && a.GPUProduct != "" {
		p.GPUType = a.GPUProduct
	}
	gpuHour, _ := p.gpuHour()
	usdPerHour := float64(a.GPUs)*gpuHour + float64(max(pt.Servers, 1))*p.NodeHour
	return expenseWith(usdPerHour, pt, ips, rps, dataRate, p)
}

// expenseAt is the expense model shared by measured and predicted points.
func expenseAt(pt results.Point, ips, rps, dataRate float64, p Prices) Expense {
	servers := float64(max(pt.Servers, 1))
	gpus := float64(max(pt.GPUs, 0))
	gpuHour, _ := p.gpuHour()
	return expenseWith(servers*(gpus*gpuHour+p.NodeHour), pt, ips, rps, dataRate, p)
}

// expenseWith derives the per-inference and per-data figures from a
// deployment's hourly expense.
func expenseWith(usdPerHour float64, pt results.Point, ips, rps, dataRate float64, p Prices) Expense {
	e := Expense{USDPerHour: usdPerHour}

	// Requests per inference: measured when possible, else from the batch size.
	reqPerInf := 1.0
	switch {
	case ips > 0 && rps > 0:
		reqPerInf = rps / ips
	case pt.BatchSize > 1:
		reqPerInf = 1 / float64(pt.BatchSize)
	}
	perInf := p.PerMillionRequests/1e6*reqPerInf + p.EgressPerGB*p.EgressBytesPerInference/1e9

	switch {
	case ips > 0:
		e.USDPerMillion = (e.USDPerHour/(3600*ips) + perInf) * 1e6
	case e.USDPerHour > 0 || perInf > 0:
		e.USDPerMillion = math.Inf(1)
	}
	if dataRate > 0 {
		e.USDPerDataHour = (e.USDPerHour + perInf*ips*3600) / dataRate
	}
	return e
}
