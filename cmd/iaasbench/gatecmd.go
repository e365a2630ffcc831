package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/gate"
	"github.com/iaasbench/iaasbench/results"
)

func runGate(_ context.Context, args []string, out io.Writer) error {
	fs := newFlags("gate", os.Stderr)
	base := fs.String("baseline", "", "results of the baseline sweep (JSONL)")
	cand := fs.String("candidate", "", "results of the candidate sweep (JSONL)")
	thresholds := fs.String("thresholds", "", `per-metric thresholds, e.g. "throughput=-5%,p99=+10%,usd_per_million=+5%" (default: the scenario's gate thresholds, else those)`)
	ref := fs.String("reference", "", `normalise by a reference point measured in the same run, e.g. "model=calibrated" (default: the scenario's gate.reference)`)
	alpha := fs.Float64("alpha", gate.DefaultAlpha, "significance level of the Mann-Whitney U test")
	minTrials := fs.Int("min-trials", 0, "fewest trials per side to compare (default: the scenario's gate.min_trials, else 5)")
	md := fs.String("markdown", "", "also write a Markdown summary (for a pull-request comment) to this file")
	junit := fs.String("junit", "", "also write JUnit XML to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *cand == "" {
		return &exitError{2, errors.New("need --baseline and --candidate results files")}
	}
	opts := gate.Options{Alpha: *alpha, MinTrials: *minTrials, Reference: *ref,
		USDPerMillion: gate.CostUSDPerMillion(pricesOfHeader)}
	if baseRecs, err := results.ReadFile(*base); err == nil {
		if s, err := scenarioOfResults(baseRecs, *base); err == nil {
			if len(s.Gate.Thresholds) > 0 && *thresholds == "" {
				th, err := gate.ParseThresholds(s.Gate.Thresholds)
				if err != nil {
					return &exitError{2, fmt.Errorf("scenario %s gate.thresholds: %w", s.Name, err)}
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
	}
	if *thresholds != "" {
		spec := map[string]string{}
		for _, kv := range strings.Split(*thresholds, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return &exitError{2, fmt.Errorf("--thresholds: %q is not metric=change", kv)}
			}
			spec[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		th, err := gate.ParseThresholds(spec)
		if err != nil {
			return &exitError{2, fmt.Errorf("--thresholds: %w", err)}
		}
		opts.Thresholds = th
	}
	rep, err := gate.CompareFiles(*base, *cand, opts)
	if err != nil {
		return &exitError{2, err}
	}
	if err := rep.WriteTable(out); err != nil {
		return err
	}
	for path, write := range map[string]func(io.Writer) error{*md: rep.WriteMarkdown, *junit: rep.WriteJUnit} {
		if path == "" {
			continue
		}
		f, err := os.Create(path)
		if err != nil {
			return &exitError{2, err}
		}
		if err := write(f); err != nil {
			f.Close()
			return &exitError{2, err}
		}
		if err := f.Close(); err != nil {
			return &exitError{2, err}
		}
	}
	if code := rep.ExitCode(); code != 0 {
		return &exitError{code, errors.New(rep.Reason())}
	}
	return nil
}

// pricesOfHeader reads the prices of the scenario stored in a results
// header, so a price change between two runs shows in the comparison.
func pricesOfHeader(hdr *results.Header) (cost.Prices, error) {
	if hdr == nil {
		return cost.DefaultPrices(), nil
	}
	s, err := scenarioOfHeader(hdr, "results")
	if err != nil {
		return cost.Prices{}, err
	}
	p := s.Cost.Prices
	if len(p.GPUHour) == 0 && p.NodeHour == 0 {
		return cost.DefaultPrices(), nil
	}
	return p, nil
}
