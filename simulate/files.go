package simulate

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// ProfileFor picks the service-time profile of a simulation of s: the
// one named (a built-in name or JSON file) when name is not empty, else
// the calibrated model's own line, else the scenario's emulated GPU
// profile.
func ProfileFor(s *scenarios.Scenario, m Model, name string) (*device.Profile, error) {
	if name != "" {
		return device.Load(name)
	}
	if m.Calibrated {
		return CalibratedProfile(m, s.Server.Calibrated), nil
	}
	p, err := device.Load(s.Server.EmulatedGPUProfile)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: server.emulated_gpu_profile: %w", s.Name, err)
	}
	return p, nil
}

// CreateFile creates path afresh, as its only writer. A simulation is
// reproducible, so an earlier simulated file there is replaced; a file of
// measurements, or anything that is not a results file, is never
// touched.
func CreateFile(path string) (*results.Writer, error) {
	check := func() error {
		st, err := os.Stat(path)
		if err != nil || st.Size() == 0 {
			return nil
		}
		recs, err := results.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s exists and is not a results file: %w", path, err)
		}
		if hdr := results.HeaderOf(recs); hdr == nil || hdr.Target != scenarios.TargetSimulated {
			return fmt.Errorf("%s exists and holds measurements: choose another --out", path)
		}
		return nil
	}
	// Checked before the lock, so that a foreign file is not even
	// repaired, and again under it, where it cannot change any more.
	if err := check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	w, err := results.Create(path)
	if err != nil {
		return nil, err
	}
	if err := check(); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.Truncate(); err != nil {
		w.Close()
		return nil, fmt.Errorf("replace %s: %w", path, err)
	}
	return w, nil
}

// WriteRecords writes a header of s under opts and recs (a comparison's
// simulated points) to w, each labelled with the header's sweep ID.
func WriteRecords(w *results.Writer, s *scenarios.Scenario, opts Options, recs []results.Record) error {
	hdr := Header(s, opts)
	if err := w.Append(hdr); err != nil {
		return err
	}
	for _, r := range recs {
		r.SweepID = hdr.SweepID
		if err := w.Append(r); err != nil {
			return err
		}
	}
	return nil
}

// MeasuredElsewhere says, when the header of measured (read from path)
// holds another scenario than s, that points are matched by their
// coordinates only; else "".
func MeasuredElsewhere(measured []results.Record, path string, s *scenarios.Scenario) string {
	hdr := results.HeaderOf(measured)
	if hdr == nil {
		return ""
	}
	ms, _, err := scenarios.ParseRecorded([]byte(hdr.ScenarioYAML), path)
	if err != nil || ms.Hash() == s.Hash() {
		return ""
	}
	return fmt.Sprintf("%s measured scenario %s (hash %s), not %s (hash %s): points are matched by coordinates only",
		path, ms.Name, ms.Hash(), s.Name, s.Hash())
}

// WriteTable prints simulated points one row each: the point, throughput,
// p50, p99, GPU utilisation and status.
func WriteTable(out io.Writer, recs []results.Record) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "servers\tgpus\tinstances\tclients\trate\tbatch\tthr (inf/s)\tp50 (ms)\tp99 (ms)\tGPU util %\tstatus\t")
	for _, r := range recs {
		p := r.Point
		m := r.Measurement
		if m == nil {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%g\t%d\t-\t-\t-\t-\t%s: %s\t\n", p.Servers, p.GPUs, p.Instances, p.Clients, p.Rate, p.BatchSize, r.Status, r.Reason)
			continue
		}
		util := "-"
		if m.Telemetry != nil && p.GPUs > 0 {
			util = fmt.Sprintf("%.0f", m.Telemetry.GPUUtilMean)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%g\t%d\t%.0f\t%.3f\t%.3f\t%s\t%s\t\n", p.Servers, p.GPUs, p.Instances, p.Clients, p.Rate, p.BatchSize,
			m.ThroughputIPS, m.Latency.P50US/1e3, m.Latency.P99US/1e3, util, strings.TrimSpace(string(r.Status)))
	}
	return tw.Flush()
}
