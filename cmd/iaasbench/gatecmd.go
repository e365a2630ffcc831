package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/gate"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

const gateExitCodes = `exit status:
  0  no regression
  1  a regression: a gated metric changed the bad way beyond its threshold
     by more than the measured noise (Holm-adjusted p <= alpha)
  2  could not decide: bad flags or input files, points missing on a side,
     too few ok trials, servers that could not be started or measured;
     the reason is printed (a regression found elsewhere still exits 1)`

var gateHelp = help{
	usage: "gate --baseline BASE.jsonl --candidate NEW.jsonl [flags]\n" +
		"       iaasbench gate --results AB.jsonl [flags]   (a file of gate run)\n" +
		"       iaasbench gate run [flags]                  (measure both sides interleaved, then gate)",
	about: `Compares a candidate's trials with a baseline's, point by point and
metric by metric; "~" marks no significant difference. A regression is a
change beyond the metric's threshold by more than the measured noise; the
chance of any false regression in a run is at most --alpha. The method:
docs/ci-gate.md.`,
	examples: []string{
		"iaasbench gate --baseline main.jsonl --candidate pr.jsonl",
		"iaasbench gate --baseline main.jsonl --candidate pr.jsonl --thresholds 'throughput=-5%,p99=+10%' --markdown gate.md",
		"iaasbench gate --results runs/ci-gate-ab-20250101T120000Z.jsonl --json -",
		"iaasbench gate run --baseline-url main:8001 --candidate-url pr:8001",
	},
	after: gateExitCodes,
}

// gateFlags are the comparison's flags, shared by 'gate' and 'gate run'.
type gateFlags struct {
	thresholds, ref, md, junit, json *string
	alpha                            *float64
	minTrials                        *int
}

func addGateFlags(fs *flag.FlagSet) *gateFlags {
	return &gateFlags{
		thresholds: fs.String("thresholds", "", "per-metric `THRESHOLDS`, e.g. throughput=-5%,p99=+10%; off stops a metric from gating (default: the scenario's)"),
		ref:        fs.String("reference", "", "normalise by the reference `POINT` measured in the same run, e.g. model=calibrated (default: the scenario's)"),
		alpha:      fs.Float64("alpha", gate.DefaultAlpha, "family-wise error rate `ALPHA`: the largest chance of any false regression in the run"),
		minTrials:  fs.Int("min-trials", 0, "fewest ok trials `N` per side to compare (default: the scenario's, else 5)"),
		md:         fs.String("markdown", "", "also write a Markdown summary (for a pull request) to `FILE`"),
		junit:      fs.String("junit", "", "also write JUnit XML to `FILE`"),
		json:       fs.String("json", "", "also write the report as JSON to `FILE`; - writes it to stdout instead of the table"),
	}
}

// options builds the comparison's options: flags first, then the
// scenario's gate settings (s may be nil), then the defaults.
func (g *gateFlags) options(s *scenarios.Scenario) (gate.Options, error) {
	opts := gate.Options{Alpha: *g.alpha, MinTrials: *g.minTrials, Reference: *g.ref,
		USDPerMillion: gate.CostUSDPerMillion(pricesOfHeader)}
	if s != nil {
		if len(s.Gate.Thresholds) > 0 && *g.thresholds == "" {
			th, err := gate.ParseThresholds(s.Gate.Thresholds)
			if err != nil {
				return opts, fmt.Errorf("scenario %s gate.thresholds: %w", s.Name, err)
			}
			opts.Thresholds = th
		}
		if opts.Reference == "" {
			opts.Reference = s.Gate.Reference
		}
		if opts.MinTrials == 0 {
			opts.MinTrials = s.Gate.MinTrials
		}
	}
	if *g.thresholds != "" {
		spec := map[string]string{}
		for _, kv := range strings.Split(*g.thresholds, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return opts, fmt.Errorf("--thresholds: %q is not metric=change", kv)
			}
			spec[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		th, err := gate.ParseThresholds(spec)
		if err != nil {
			return opts, fmt.Errorf("--thresholds: %w", err)
		}
		opts.Thresholds = th
	}
	return opts, nil
}

// emit writes the report (table or JSON on out, the files asked for)
// and turns its outcome into the exit status.
func (g *gateFlags) emit(rep *gate.Report, out io.Writer) error {
	if *g.json == "-" {
		if err := rep.WriteJSON(out); err != nil {
			return &exitError{2, err}
		}
	} else if err := rep.WriteTable(out); err != nil {
		return &exitError{2, err}
	}
	files := []struct {
		path  string
		write func(io.Writer) error
	}{{*g.md, rep.WriteMarkdown}, {*g.junit, rep.WriteJUnit}, {*g.json, rep.WriteJSON}}
	for _, f := range files {
		if f.path == "" || f.path == "-" {
			continue
		}
		if err := writeFile(f.path, f.write); err != nil {
			return &exitError{2, err}
		}
	}
	if code := rep.ExitCode(); code != 0 {
		return &exitError{code, errors.New(rep.Reason())}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// parseGateFlags parses args; a bad flag is exit 2 (1 would read as a
// regression), -h exits 0.
func parseGateFlags(fs *cmdFlags, args []string, out io.Writer) error {
	if err := fs.parseFlagsOnly(args, out); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, err}
	}
	return nil
}

func runGate(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "run" {
		return runGateRun(ctx, args[1:], out)
	}
	fs := newCmdFlags("gate", gateHelp)
	base := fs.String("baseline", "", "results `FILE` of the baseline sweep (JSONL)")
	cand := fs.String("candidate", "", "results `FILE` of the candidate sweep (JSONL)")
	ab := fs.String("results", "", "results `FILE` of gate run: both sides in one file")
	g := addGateFlags(fs.FlagSet)
	if err := parseGateFlags(fs, args, out); err != nil {
		return err
	}
	var baseRecs, candRecs []results.Record
	var err error
	switch {
	case *ab != "" && (*base != "" || *cand != ""):
		return &exitError{2, errors.New("give either --results (an interleaved run) or --baseline and --candidate")}
	case *ab != "":
		recs, err := results.ReadFile(*ab)
		if err != nil {
			return &exitError{2, err}
		}
		if baseRecs, candRecs, err = gate.SplitSides(recs, *ab); err != nil {
			return &exitError{2, err}
		}
	case *base == "" || *cand == "":
		return &exitError{2, errors.New("need --baseline and --candidate results files, or --results of an interleaved run (-h for help)")}
	default:
		if baseRecs, err = results.ReadFile(*base); err != nil {
			return &exitError{2, fmt.Errorf("baseline: %w", err)}
		}
		if candRecs, err = results.ReadFile(*cand); err != nil {
			return &exitError{2, fmt.Errorf("candidate: %w", err)}
		}
	}
	// The baseline's scenario (from its header) supplies the thresholds
	// unless flags say otherwise; a file without one uses the defaults.
	s, notes, _ := scenarioOfResults(baseRecs, "baseline")
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "note:", n)
	}
	opts, err := g.options(s)
	if err != nil {
		return &exitError{2, err}
	}
	rep, err := gate.Compare(baseRecs, candRecs, opts)
	if err != nil {
		return &exitError{2, err}
	}
	return g.emit(rep, out)
}

// pricesOfHeader reads the prices of the scenario stored in a results
// header, so a price change between two runs shows in the comparison.
func pricesOfHeader(hdr *results.Header) (cost.Prices, error) {
	if hdr == nil {
		return cost.DefaultPrices(), nil
	}
	s, _, err := scenarioOfHeader(hdr, "results")
	if err != nil {
		return cost.Prices{}, err
	}
	p := s.Cost.Prices
	if len(p.GPUHour) == 0 && p.NodeHour == 0 {
		return cost.DefaultPrices(), nil
	}
	return p, nil
}
