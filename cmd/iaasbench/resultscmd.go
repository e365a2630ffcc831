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
	"github.com/iaasbench/iaasbench/results/table"
)

func runResults(_ context.Context, args []string, out io.Writer) error {
	sub := "ls"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "ls":
		dir := "results"
		if len(args) > 0 {
			dir = args[0]
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
	case "show", "csv":
		if len(args) != 1 {
			return fmt.Errorf("usage: iaasbench results %s FILE", sub)
		}
		recs, err := results.ReadFile(args[0])
		if err != nil {
			return err
		}
		if sub == "csv" {
			return table.WriteCSV(out, results.Points(recs))
		}
		return table.WriteText(out, results.Points(recs))
	}
	return fmt.Errorf("unknown subcommand %q (want ls [DIR], show FILE, csv FILE)", sub)
}
