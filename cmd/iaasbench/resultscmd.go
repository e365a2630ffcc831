package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/results/pacsv"
	"github.com/iaasbench/iaasbench/results/table"
	"github.com/iaasbench/iaasbench/sweep"
)

var resultsHelp = help{
	usage: "results <ls [DIR] | show FILE | csv FILE>",
	about: `Lists the results files of sweeps, prints a sweep's points as a table,
or exports them as CSV.`,
	examples: []string{
		"iaasbench results ls",
		"iaasbench results show runs/quickstart-1a2b3c.jsonl",
		"iaasbench results csv runs/quickstart-1a2b3c.jsonl > quickstart.csv",
	},
}

func runResults(_ context.Context, args []string, out io.Writer) error {
	return dispatch("results", resultsHelp, []subcommand{
		{"ls", "the results files in a directory (default " + sweep.DefaultDir + "/): scenario, points ok and failed, last write", resultsLs},
		{"show", "a sweep's points as a table, failed attempts with their reasons", resultsShow},
		{"csv", "a sweep's points as CSV", resultsCSV},
	}, "ls", args, out)
}

func resultsLs(args []string, out io.Writer) error {
	fs := newCmdFlags("results ls", help{
		usage:    "results ls [DIR]",
		about:    "Lists the results files (*.jsonl) in DIR (default " + sweep.DefaultDir + "/, where sweeps write).",
		examples: []string{"iaasbench results ls", "iaasbench results ls ci/runs"},
	})
	pos, err := fs.parse(args, out)
	if err != nil {
		return err
	}
	dir := sweep.DefaultDir
	switch len(pos) {
	case 0:
	case 1:
		dir = pos[0]
	default:
		return fmt.Errorf("want at most one directory, got %q", pos)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) == 0 {
		fmt.Fprintf(out, "no results in %s (run iaasbench sweep)\n", dir)
		return nil
	}
	sort.Strings(files)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSCENARIO\tPOINTS OK\tFAILED\tLAST")
	for _, f := range files {
		recs, err := results.ReadFile(f)
		if err != nil {
			fmt.Fprintf(tw, "%s\t(unreadable: %v)\n", f, err)
			continue
		}
		ok, failed, name := 0, 0, ""
		var last time.Time
		for _, r := range recs {
			name = r.Scenario
			if r.Kind == results.KindHeader {
				continue
			}
			if r.Status == results.StatusOK {
				ok++
			} else {
				failed++
			}
			if r.Finished.After(last) {
				last = r.Finished
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", f, name, ok, failed, last.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// oneResultsFile parses a sub-command that reads one results file.
func oneResultsFile(fs *cmdFlags, args []string, out io.Writer) ([]results.Record, error) {
	pos, err := fs.parse(args, out)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, fmt.Errorf("want one results file, got %d arguments (usage: iaasbench %s)", len(pos), fs.help.usage)
	}
	return results.ReadFile(pos[0])
}

func resultsShow(args []string, out io.Writer) error {
	fs := newCmdFlags("results show", help{
		usage:    "results show FILE",
		about:    "Prints every point of a sweep, one row each, with the reason of each failed attempt.",
		examples: []string{"iaasbench results show runs/quickstart-1a2b3c.jsonl"},
	})
	recs, err := oneResultsFile(fs, args, out)
	if err != nil {
		return err
	}
	return table.WriteText(out, results.Points(recs))
}

func resultsCSV(args []string, out io.Writer) error {
	fs := newCmdFlags("results csv", help{
		usage: "results csv [--format iaasbench|perf_analyzer] FILE",
		about: `Writes every point of a sweep as CSV on stdout (the columns of results show),
or with --format perf_analyzer the ok points as perf_analyzer's -f report.`,
		examples: []string{"iaasbench results csv runs/quickstart-1a2b3c.jsonl > quickstart.csv",
			"iaasbench results csv --format perf_analyzer --verbose-csv runs/quickstart-1a2b3c.jsonl > pa.csv"},
	})
	format := fs.String("format", "iaasbench", "iaasbench (every column) or perf_analyzer (perf_analyzer's -f CSV)")
	verbose := fs.Bool("verbose-csv", false, "perf_analyzer format: add its --verbose-csv columns")
	metrics := fs.Bool("collect-metrics", false, "perf_analyzer format, with --verbose-csv: add its GPU columns (from each point's telemetry)")
	recs, err := oneResultsFile(fs, args, out)
	if err != nil {
		return err
	}
	switch *format {
	case "iaasbench":
		return table.WriteCSV(out, results.Points(recs))
	case "perf_analyzer":
		rows, o, err := pacsv.FromRecords(recs)
		if err != nil {
			return err
		}
		o.Verbose = *verbose
		o.Metrics = *metrics
		return pacsv.Write(out, rows, o)
	}
	return fmt.Errorf("--format %q: want iaasbench or perf_analyzer", *format)
}
