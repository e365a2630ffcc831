package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/iaasbench/iaasbench/measure"
)

// runProfile derives a device profile (service time per batch size) from
// measurements against a real server, for emulation and simulation.
func runProfile(ctx context.Context, args []string, out io.Writer) error {
	fs := newCmdFlags("profile", help{
		aliases: connAliases,
		usage:   "profile --url ADDR [flags]",
		about: `Measures a model's service time per batch size on a real server (a
Triton on a GPU, typically) and writes a device profile (JSON) for
emulated GPUs (serve --gpu-profile) and the simulator (docs/simulate.md).`,
		examples: []string{
			"iaasbench profile --url gpu-host:8001 --model mlp --device \"NVIDIA A100\" --out a100.json",
			"iaasbench profile --url gpu-host:8001 --batches 1,8,64 --duration 5s",
		},
	})
	url := fs.String("url", "", "`ADDR` of the server to profile: "+addressHelp)
	conn := addConnFlags(fs.FlagSet)
	model := fs.String("model", "mlp", "`MODEL` to profile")
	batches := fs.String("batches", "1,2,4,8,16,32,64,128,256,512,1024", "batch `SIZES` to measure, comma-separated")
	dur := fs.Duration("duration", 2*time.Second, "measured `TIME` per batch size, e.g. 5s (after a 300 ms warm-up)")
	deviceName := fs.String("device", "", "`NAME` of the device, e.g. \"NVIDIA A100 80GB\" (default: unknown)")
	outFile := fs.String("out", "", "write the profile JSON to `FILE` (default stdout)")
	if err := fs.parseFlagsOnly(args, out); err != nil {
		return err
	}
	if *url == "" {
		return fmt.Errorf("need --url of a running server (iaasbench profile measures a real server; the embedded one would profile this CPU)")
	}
	cs, err := conn.settings(slog.Default())
	if err != nil {
		return err
	}
	name := *deviceName
	if name == "" {
		name = "unknown (pass --device)"
	}
	var sizes []int
	for _, f := range strings.Split(*batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b <= 0 {
			return fmt.Errorf("--batches: %q is not a positive integer", f)
		}
		sizes = append(sizes, b)
	}
	p, err := measure.Profile(ctx, measure.ProfileOptions{Addr: *url, Conn: cs, Model: *model, Batches: sizes,
		Warmup: 300 * time.Millisecond, Duration: *dur, Device: name, Progress: os.Stderr, Logger: slog.Default()})
	if err != nil {
		return err
	}
	w := out
	if *outFile != "" {
		f, err := os.Create(*outFile)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(p)
}
