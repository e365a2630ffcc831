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
		"scenarios": {"list, show, check or import scenarios", runScenarios},
		"results":   {"list sweeps, print a sweep's points, export them as CSV", runResults},
		"sweep":     {"sweep a scenario's points against servers (default: quickstart, embedded)", runSweep},
		"agent":     {"a load agent: measure the plans of a coordinator", runAgent},
		"profile":   {"derive a device profile (service time per batch size) from a server", runProfile},
		"report":    {"write the figures and operating point of a sweep", runReport},
		"gate":      {"compare two sweeps; fail on a real performance regression", runGate},
		"k8s":       {"Kubernetes helpers: print a scenario's manifests", runK8s},
		"simulate":  {"simulate a scenario with a discrete-event model", runSimulate},
		"cost":      {"re-evaluate a sweep under other prices, constraints or objective", runCost},
		"version":   {"print the version", runVersion},
	}
}

var mainHelp = help{
	usage: "<command> [flags]",
	about: `Finds the cheapest way to serve inference on Triton: measures latency,
throughput and expense across serving configurations, fits cost surfaces
and chooses the operating point. With no command it sweeps the quickstart
scenario on the embedded server.`,
	examples: []string{
		"iaasbench",
		"iaasbench scenarios list",
		"iaasbench sweep --scenario batching-delay",
		"iaasbench sweep --url triton:8001 --scenario quickstart",
		"iaasbench results show runs/quickstart-1a2b3c.jsonl",
		"iaasbench gate --baseline main.jsonl --candidate pr.jsonl",
	},
	after: "Run 'iaasbench <command> -h' for a command's flags. IAASBENCH_LOG=debug for more logs.",
}

func runVersion(_ context.Context, args []string, out io.Writer) error {
	fs := newCmdFlags("version", help{usage: "version", about: "Prints the version of iaasbench.", examples: []string{"iaasbench version"}})
	if err := fs.parseFlagsOnly(args, out); err != nil {
		return err
	}
	fmt.Fprintln(out, "iaasbench", version)
	return nil
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
	if isHelp(name) {
		usage(stdout, cmds)
		return 0
	}
	if name == "--version" {
		name = "version"
	}
	c, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "iaasbench: unknown command %q (iaasbench -h lists the commands)\n", name)
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

// usage is the top-level help: mainHelp with the commands in between.
func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	subs := make([]subcommand, len(names))
	for i, n := range names {
		subs[i] = subcommand{name: n, summary: cmds[n].summary}
	}
	h := mainHelp
	h.after = ""
	writeList(w, h, "commands", subs)
	fmt.Fprintf(w, "\n%s\n", mainHelp.after)
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
