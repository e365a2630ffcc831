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
	fs := newFlags("profile", os.Stderr)
	url := fs.String("url", "", "address of the server to profile (a real Triton on a GPU, typically): "+addressHelp)
	conn := addConnFlags(fs)
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
