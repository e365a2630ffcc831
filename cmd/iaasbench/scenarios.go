package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

var scenariosHelp = help{
	usage: "scenarios <list | show NAME|FILE | check FILE | import --model-analyzer FILE>",
	about: `Lists the built-in scenarios, prints one as YAML (a starting point for
your own), checks a scenario file (dimensions, targets, cost model,
constraints and objectives), or converts a Model Analyzer config.`,
	examples: []string{
		"iaasbench scenarios list",
		"iaasbench scenarios show quickstart > mine.yaml",
		"iaasbench scenarios check mine.yaml",
		"iaasbench scenarios import --model-analyzer ma.yaml --out mlp.yaml",
	},
}

func runScenarios(_ context.Context, args []string, out io.Writer) error {
	return dispatch("scenarios", scenariosHelp, []subcommand{
		{"list", "the built-in scenarios, their point counts and descriptions", scenariosList},
		{"show", "print a scenario (built-in name or file) as YAML", scenariosShow},
		{"check", "parse and validate a scenario file; print its point count", scenariosCheck},
		{"import", "convert a Model Analyzer profile config into a scenario", func(args []string, out io.Writer) error {
			return runScenariosImport(args, out, os.Stderr)
		}},
	}, "list", args, out)
}

func scenariosList(args []string, out io.Writer) error {
	fs := newCmdFlags("scenarios list", help{
		usage:    "scenarios list",
		about:    "Lists the built-in scenarios: name, number of points, description.",
		examples: []string{"iaasbench scenarios list"},
	})
	if err := fs.parseFlagsOnly(args, out); err != nil {
		return err
	}
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

// oneScenarioArg parses a sub-command that takes one scenario name or file.
func oneScenarioArg(fs *cmdFlags, args []string, out io.Writer) (*scenarios.Scenario, string, error) {
	pos, err := fs.parse(args, out)
	if err != nil {
		return nil, "", err
	}
	if len(pos) != 1 {
		return nil, "", fmt.Errorf("want one scenario name or file, got %d arguments (usage: iaasbench %s)", len(pos), fs.help.usage)
	}
	s, err := scenarios.Resolve(pos[0])
	return s, pos[0], err
}

func scenariosShow(args []string, out io.Writer) error {
	fs := newCmdFlags("scenarios show", help{
		usage:    "scenarios show NAME|FILE",
		about:    "Prints a scenario as YAML, every default filled in.",
		examples: []string{"iaasbench scenarios show quickstart", "iaasbench scenarios show quickstart > mine.yaml"},
	})
	s, _, err := oneScenarioArg(fs, args, out)
	if err != nil {
		return err
	}
	_, err = out.Write(s.YAML())
	return err
}

func scenariosCheck(args []string, out io.Writer) error {
	fs := newCmdFlags("scenarios check", help{
		usage: "scenarios check FILE",
		about: `Parses and validates a scenario: fields, dimensions, target, cost
model, constraints and objectives. Errors name the file, line and field.`,
		examples: []string{"iaasbench scenarios check mine.yaml"},
	})
	s, arg, err := oneScenarioArg(fs, args, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: ok, %d points (varied: %s)\n", arg, len(s.Points()), strings.Join(s.Varied(), ", "))
	return nil
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
