package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

var costHelp = help{
	usage: "cost --results FILE [flags]",
	about: `Re-evaluates every point recorded in a results file under other prices,
constraints or objective, without measuring again (defaults: the file's
own scenario). Prints the operating point, how many points meet the
constraints and what excludes the others, the Pareto frontier of p99
against USD/hour, the fit quality of the surfaces (leave-one-out error per
figure) and the best configuration of the grid that was not measured, with
what to measure to confirm it. Exits 1 when no point meets the
constraints, naming the constraint that excludes the most.`,
	examples: []string{
		"iaasbench cost --results runs/quickstart-1a2b3c.jsonl",
		"iaasbench cost --results runs/quickstart-1a2b3c.jsonl --price gpu_hour=6 --price node_hour=0.8",
		"iaasbench cost --results runs/quickstart-1a2b3c.jsonl --constraint 'p99 <= 2ms' --objective usd_per_hour",
		"iaasbench cost --results runs/quickstart-1a2b3c.jsonl --constraint 'perf_latency_p99 <= 5' --out what-if/",
	},
}

func runCost(_ context.Context, args []string, out io.Writer) error {
	return costCommand(args, out, os.Stderr)
}

func costCommand(args []string, out, errOut io.Writer) error {
	fs := newCmdFlags("cost", costHelp)
	file := fs.String("results", "", "results `FILE` of a sweep (JSONL)")
	var constraints []string
	fs.Func("constraint", "a constraint `EXPR` such as 'p99 <= 5ms' or 'perf_latency_p99 <= 5' (repeat for several; they replace the file's; 'none' for none)", func(s string) error {
		constraints = append(constraints, s)
		return nil
	})
	objective := fs.String("objective", "", "the `FIGURE` to minimise (maximise for throughput-like figures), e.g. usd_per_million, usd_per_hour, p99, perf_throughput")
	var prices [][2]string
	fs.Func("price", "a price `KEY=VALUE`: gpu_hour, gpu_hour.TYPE, node_hour, per_million_requests, egress_per_gb, egress_bytes_per_inference (repeat for several)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("want KEY=VALUE, got %q", s)
		}
		prices = append(prices, [2]string{strings.TrimSpace(k), v})
		return nil
	})
	gpuType := fs.String("gpu-type", "", "the GPU `TYPE` whose gpu_hour price applies (e.g. H200)")
	dir := fs.String("out", "", "also write the report (PNGs, index.html) under this cost model in `DIR`")
	if err := fs.parseFlagsOnly(args, out); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("need --results FILE (see iaasbench results ls; -h for help)")
	}
	recs, err := results.ReadFile(*file)
	if err != nil {
		return err
	}
	spec := cost.Spec{Prices: cost.DefaultPrices()}
	var grid []results.Point
	name := "an unnamed sweep"
	s, notes, err := scenarioOfResults(recs, *file)
	for _, n := range notes {
		fmt.Fprintln(errOut, "note:", n)
	}
	if err == nil {
		spec, grid, name = s.Cost, s.Points(), s.Name
	} else {
		fmt.Fprintf(errOut, "note: %v; using example prices, no constraints, and the measured points as the grid\n", err)
	}
	switch {
	case len(constraints) == 1 && constraints[0] == "none":
		spec.Constraints = nil
	case len(constraints) > 0:
		spec.Constraints = constraints
	}
	if *objective != "" {
		spec.Objective, spec.Objectives = *objective, nil
		if *objective != "weighted" {
			spec.Weights = nil
		}
	}
	spec.Prices = clonePrices(spec.Prices)
	if *gpuType != "" {
		spec.Prices.GPUType = *gpuType
	}
	for _, kv := range prices {
		if err := spec.Prices.SetPrice(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if grid != nil {
		// One step past the sweep's range along what it varied: where a
		// cheaper point may lie that it never reached.
		grid = cost.ExtendGrid(grid, results.Dimensions)
	}
	a, err := cost.Analyze(recs, grid, spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "cost of %s (%s): %d points recorded\n", name, *file, a.Points)
	a.WriteText(out)
	if *dir != "" {
		if err := writeReport(io.Discard, recs, spec, *dir); err != nil {
			return err
		}
		fmt.Fprintf(out, "report: %s/index.html\n", strings.TrimSuffix(*dir, "/"))
	}
	return a.Infeasible()
}

// clonePrices copies the GPU price map so that --price edits do not
// reach the scenario's.
func clonePrices(p cost.Prices) cost.Prices {
	g := make(map[string]float64, len(p.GPUHour))
	for k, v := range p.GPUHour {
		g[k] = v
	}
	p.GPUHour = g
	return p
}
