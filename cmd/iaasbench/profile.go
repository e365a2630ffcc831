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

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/measure"
)

// runProfile derives a device profile (service time per batch size) from
// measurements against a real server, for emulation and simulation.
func runProfile(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("profile", os.Stderr)
	url := fs.String("url", "", "gRPC address of the server to profile (a real Triton on a GPU, typically)")
	model := fs.String("model", "mlp", "model to profile")
	batches := fs.String("batches", "1,2,4,8,16,32,64,128,256,512,1024", "batch sizes to measure")
	dur := fs.Duration("duration", 2*time.Second, "measured time per batch size (after a 300 ms warm-up)")
	deviceName := fs.String("device", "", "name of the device, e.g. \"NVIDIA A100 80GB\" (default: from the server's metrics or 'unknown')")
	outFile := fs.String("out", "", "write the profile JSON here (default stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return fmt.Errorf("need --url of a running server (iaasbench profile measures a real server; the embedded one would profile this CPU)")
	}
	c, err := client.Dial(*url)
	if err != nil {
		return err
	}
	md, err := c.ServerMetadata(ctx)
	c.Close()
	if err != nil {
		return err
	}
	p := device.Profile{Device: *deviceName, Model: *model, Measured: time.Now().UTC().Format("2006-01-02"),
		What: fmt.Sprintf("mean server-side compute (input + infer + output) of one call at concurrency 1, from ModelStatistics deltas; %s %s at %s, measured with iaasbench profile",
			md.GetName(), md.GetVersion(), *url)}
	if p.Device == "" {
		p.Device = "unknown (pass --device)"
	}
	for _, f := range strings.Split(*batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b <= 0 {
			return fmt.Errorf("--batches: %q is not a positive integer", f)
		}
		m, err := measure.Run(ctx, measure.Options{Addrs: []string{*url}, Model: *model, Clients: 1, BatchSize: b,
			Warmup: 300 * time.Millisecond, Duration: *dur, NoTelemetry: true, Logger: slog.Default()})
		if err != nil {
			return fmt.Errorf("batch %d: %w", b, err)
		}
		if m.Server == nil || m.Server.ExecutionCount == 0 {
			return fmt.Errorf("batch %d: the server reported no executions in its statistics", b)
		}
		us := m.Server.ComputeInputUS + m.Server.ComputeInferUS + m.Server.ComputeOutputUS
		p.Points = append(p.Points, device.ProfilePoint{Batch: b, P50US: us})
		fmt.Fprintf(os.Stderr, "batch %5d: %8.1f us per call (client p50 %.1f us)\n", b, us, m.Latency.P50US)
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
