package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/plots"
	"github.com/iaasbench/iaasbench/results"
)

func runReport(_ context.Context, args []string, out io.Writer) error {
	fs := newCmdFlags("report", help{
		usage: "report --results FILE [--out DIR] [--surface DIM,DIM]",
		about: `Draws a sweep's figures (PNG, index.html, README.md for a pull request)
and prints its operating point, under the cost model of the sweep's own
scenario (cost re-evaluates it under another).`,
		examples: []string{
			"iaasbench report --results runs/quickstart-1a2b3c.jsonl",
			"iaasbench report --results runs/quickstart-1a2b3c.jsonl --out report/ --surface instances,clients",
		},
	})
	file := fs.String("results", "", "results `FILE` of a sweep (JSONL)")
	dir := fs.String("out", "", "report `DIR` (default: the results file's path without .jsonl)")
	surface := fs.String("surface", "", "two `DIMS` for the cost-surface figure, e.g. instances,clients")
	if err := fs.parseFlagsOnly(args, out); err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("need --results FILE (see iaasbench results ls; -h for help)")
	}
	recs, err := results.ReadFile(*file)
	if err != nil {
		return err
	}
	spec := cost.Spec{Prices: cost.DefaultPrices()}
	s, notes, err := scenarioOfResults(recs, *file)
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "note:", n)
	}
	if err == nil {
		spec = s.Cost
	} else {
		fmt.Fprintf(os.Stderr, "note: %v; using default prices and no constraints\n", err)
	}
	if *surface != "" {
		spec.Surface = strings.Split(*surface, ",")
	}
	if *dir == "" {
		*dir = defaultReportDir(*file)
	}
	return writeReport(out, recs, spec, *dir)
}

// defaultReportDir puts a sweep's report beside its results file:
// runs/quickstart-1a2b.jsonl → runs/quickstart-1a2b/index.html.
func defaultReportDir(resultsFile string) string {
	return strings.TrimSuffix(resultsFile, filepath.Ext(resultsFile))
}

// writeReport renders the figures and prints the operating point.
func writeReport(out io.Writer, recs []results.Record, spec cost.Spec, dir string) error {
	var opts plots.Options
	if slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		opts.Logger = slog.Default() // a line per figure, and why one failed
	}
	sum, err := plots.Report(recs, spec, dir, opts)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	printOperatingPoint(out, recs, spec)
	for _, n := range sum.Notes {
		fmt.Fprintln(out, "note:", n)
	}
	fmt.Fprintf(out, "report: %s (%d figures; open index.html, or paste README.md into a pull request)\n",
		filepath.Join(dir, "index.html"), len(sum.Figures))
	return nil
}

func printOperatingPoint(out io.Writer, recs []results.Record, spec cost.Spec) {
	points := results.Points(recs)
	evals, err := cost.Evaluate(points, spec)
	if err != nil {
		fmt.Fprintln(out, "cost:", err)
		return
	}
	op, err := cost.Choose(evals, cost.MeasuredGrid(points), spec)
	if err != nil {
		fmt.Fprintln(out, "operating point:", err)
		return
	}
	obj := spec.ObjectiveName()
	if op.Best == nil {
		fmt.Fprintf(out, "operating point: none feasible (%s)\n", op.Reason)
		return
	}
	b := op.Best
	verb := "minimises"
	if obj != "weighted" && cost.HigherBetter(obj) {
		verb = "maximises"
	}
	fmt.Fprintf(out, "operating point (%s %s under %s): %s\n", verb, obj, strings.Join(spec.Constraints, ", "), b.Point.Key())
	fmt.Fprintf(out, "  throughput %.0f inf/s, p99 %.2f ms, %.3f USD/h, %.4f USD per million inferences\n",
		b.Figures["throughput"], b.Figures["p99"], b.Expense.USDPerHour, b.Expense.USDPerMillion)
	if op.Predicted != nil {
		fmt.Fprintf(out, "  predicted (not measured): %s — %s\n", op.Predicted.Point.Key(), op.Suggestion)
	}
	cost.WriteFitQuality(out, op)
}
