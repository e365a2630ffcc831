package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
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
			return writeResultsCSV(out, results.Points(recs))
		}
		return writeResultsTable(out, results.Points(recs))
	}
	return fmt.Errorf("unknown subcommand %q (want ls [DIR], show FILE, csv FILE)", sub)
}

var resultColumns = []string{"gpus", "instances", "clients", "rate", "batch_size", "servers", "trial", "status",
	"throughput_ips", "p50_ms", "p90_ms", "p99_ms", "max_ms", "queue_us", "compute_infer_us", "gpu_util_pct", "cpu_util_pct", "data_rate", "source", "reason",
	// The emulated GPUs' own call durations (embedded target; empty
	// elsewhere): how far the emulation strayed from its profile.
	"device_call_p50_us", "device_call_p90_us", "device_call_p99_us"}

func resultRow(r results.Record) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	p := r.Point
	row := []string{strconv.Itoa(p.GPUs), strconv.Itoa(p.Instances), strconv.Itoa(p.Clients), strconv.FormatFloat(p.Rate, 'g', -1, 64),
		strconv.Itoa(p.BatchSize), strconv.Itoa(p.Servers), strconv.Itoa(r.Trial), string(r.Status)}
	m := r.Measurement
	if m == nil {
		m = &results.Measurement{}
	}
	var q, ci float64
	if m.Server != nil {
		q, ci = m.Server.QueueUS, m.Server.ComputeInferUS
	}
	var gu, cu float64
	if m.Telemetry != nil {
		gu, cu = m.Telemetry.GPUUtilMean, m.Telemetry.CPUUtilMean
	}
	row = append(row, f(m.ThroughputIPS), f(m.Latency.P50US/1e3), f(m.Latency.P90US/1e3), f(m.Latency.P99US/1e3), f(m.Latency.MaxUS/1e3),
		f(q), f(ci), f(gu), f(cu), f(m.DataRate), string(r.Source), r.Reason)
	dc := []string{"", "", ""}
	if m.DeviceCalls != nil {
		if h, err := hist.FromResults(*m.DeviceCalls); err == nil && h.Count() > 0 {
			for i, q := range []float64{0.5, 0.9, 0.99} {
				dc[i] = f(float64(h.Quantile(q)) / 1e3)
			}
		}
	}
	return append(row, dc...)
}

func writeResultsCSV(out io.Writer, recs []results.Record) error {
	w := csv.NewWriter(out)
	if err := w.Write(resultColumns); err != nil {
		return err
	}
	for _, r := range recs {
		if err := w.Write(resultRow(r)); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

func writeResultsTable(out io.Writer, recs []results.Record) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	cols := []string{"gpus", "inst", "clients", "rate", "batch", "servers", "trial", "status", "inf/s", "p50 ms", "p99 ms", "gpu %", "cpu %", "reason"}
	for _, c := range cols {
		fmt.Fprint(tw, c, "\t")
	}
	fmt.Fprintln(tw)
	for _, r := range recs {
		row := resultRow(r)
		pick := []string{row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[11], row[15], row[16], row[19]}
		for _, c := range pick {
			fmt.Fprint(tw, c, "\t")
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
