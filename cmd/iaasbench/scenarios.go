package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

func runScenarios(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "list" {
		for _, n := range scenarios.List() {
			s, err := scenarios.Builtin(n)
			if err != nil {
				return err
			}
			desc := strings.Join(strings.Fields(s.Description), " ")
			if len(desc) > 90 {
				desc = desc[:87] + "..."
			}
			fmt.Fprintf(out, "%-18s %3d points  %s\n", n, len(s.Points()), desc)
		}
		return nil
	}
	switch args[0] {
	case "import":
		return runScenariosImportCmd(ctx, args[1:], out)
	case "show":
		if len(args) != 2 {
			return fmt.Errorf("usage: iaasbench scenarios show NAME|FILE")
		}
		s, err := scenarios.Resolve(args[1])
		if err != nil {
			return err
		}
		_, err = out.Write(s.YAML())
		return err
	case "check":
		if len(args) != 2 {
			return fmt.Errorf("usage: iaasbench scenarios check FILE")
		}
		s, err := scenarios.Resolve(args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: ok, %d points (varied: %s)\n", args[1], len(s.Points()), strings.Join(s.Varied(), ", "))
		return nil
	}
	return fmt.Errorf("unknown subcommand %q (want list, show NAME, check FILE, import --model-analyzer FILE)", args[0])
}

// scenarioOfResults recovers the scenario a results file was made with,
// from its header.
func scenarioOfResults(recs []results.Record, path string) (*scenarios.Scenario, []string, error) {
	hdr := results.HeaderOf(recs)
	if hdr == nil {
		return nil, nil, fmt.Errorf("%s has no header record: not written by iaasbench sweep", path)
	}
	return scenarioOfHeader(hdr, path)
}

// scenarioOfHeader parses the scenario stored in a results header,
// whatever target produced it: fields that target does not use are
// dropped with a note rather than losing the cost model with them.
func scenarioOfHeader(hdr *results.Header, path string) (*scenarios.Scenario, []string, error) {
	return scenarios.ParseRecorded([]byte(hdr.ScenarioYAML), path+" (header scenario)")
}
