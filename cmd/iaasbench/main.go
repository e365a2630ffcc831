// Command iaasbench finds the cheapest way to serve deep-learning inference
// on Triton: it measures latency, throughput and expense across serving
// configurations, fits cost surfaces and chooses the operating point.
// This file only dispatches subcommands; the work lives in the packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	summary string
	run     func(ctx context.Context, args []string, out io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":     {"run the embedded Triton-compatible inference server", runServe},
		"measure":   {"measure one configuration of a served model", runMeasure},
		"scenarios": {"list, show, check or import scenarios (list | show NAME | check FILE | import --model-analyzer FILE)", runScenarios},
		"results":   {"list sweeps, print a sweep's table, export CSV (ls | show FILE | csv FILE)", runResults},
		"sweep":     {"sweep a scenario against live servers (default: quickstart on the embedded server)", runSweep},
		"agent":     {"a load agent: take measurement plans from a coordinator and return results", runAgent},
		"profile":   {"derive a device profile (service time per batch size) from a real server", runProfile},
		"report":    {"write the PNG report of a sweep (--results FILE --out DIR)", runReport},
		"gate":      {"compare two sweeps and fail on a real performance regression", runGate},
		"k8s":       {"Kubernetes helpers (manifests --scenario S)", runK8s},
		"simulate":  {"simulate a scenario with a discrete-event model of servers, GPUs and clients", runSimulate},
		"cost":      {"re-evaluate a sweep under other prices, constraints or objective, without measuring again", runCost},
	}
}

// exitError carries a specific exit code (e.g. the gate's 1 and 2).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()})))
	cmds := commands()
	if len(args) == 0 {
		args = []string{"sweep"}
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		usage(stdout, cmds)
		return 0
	}
	if name == "version" || name == "--version" {
		fmt.Fprintln(stdout, "iaasbench", version)
		return 0
	}
	c, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "iaasbench: unknown command %q\n\n", name)
		usage(stderr, cmds)
		return 2
	}
	ctx, stop := withSignals(context.Background())
	defer stop()
	if err := c.run(ctx, args[1:], stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "iaasbench %s: %v\n", name, err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		// A command cut short by a signal exits as the shell expects
		// (128 + the signal's number) so that a pipeline sees why.
		if in, ok := interrupted(ctx); ok {
			return in.code()
		}
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: iaasbench <command> [flags]   (no command: sweep the quickstart scenario)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'iaasbench <command> -h' for a command's flags. IAASBENCH_LOG=debug for more logs.")
}

func logLevel() slog.Level {
	switch os.Getenv("IAASBENCH_LOG") {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("iaasbench "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
