package measure

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// CSVHeader is perf_analyzer's -f header (times in microseconds). In open
// loop perf_analyzer names the first column "Request Rate"; so does
// WriteCSV.
var CSVHeader = []string{
	"Concurrency", "Inferences/Second", "Client Send", "Network+Server Send/Recv",
	"Server Queue", "Server Compute Input", "Server Compute Infer", "Server Compute Output",
	"Client Recv", "p50 latency", "p90 latency", "p95 latency", "p99 latency",
}

// CSVRow is one measurement as a perf_analyzer CSV row. load is the
// first column: total concurrency (closed loop) or total request rate
// (open loop). The client's send and receive times are not separated from
// the network: they count in "Network+Server Send/Recv", which is the
// client's mean latency minus the server's queue and compute times.
func CSVRow(m *results.Measurement, load float64) []string {
	us := func(v float64) string { return strconv.FormatInt(int64(v+0.5), 10) }
	var queue, in, infer, out float64
	if s := m.Server; s != nil {
		queue, in, infer, out = s.QueueUS, s.ComputeInputUS, s.ComputeInferUS, s.ComputeOutputUS
	}
	network := max(0, m.Latency.MeanUS-queue-in-infer-out)
	return []string{
		strconv.FormatFloat(load, 'g', -1, 64),
		strconv.FormatFloat(round1(m.ThroughputIPS), 'f', -1, 64),
		"0", us(network), us(queue), us(in), us(infer), us(out), "0",
		us(m.Latency.P50US), us(m.Latency.P90US), us(m.Latency.P95US), us(m.Latency.P99US),
	}
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// csvHeaderFor returns the header for the load mode.
func csvHeaderFor(mode string) []string {
	h := append([]string(nil), CSVHeader...)
	if mode == workload.ModeOpen {
		h[0] = "Request Rate"
	}
	return h
}

// WriteCSV writes a header and one row per measurement. loads are the
// first column of each row (see CSVRow).
func WriteCSV(w io.Writer, mode string, ms []*results.Measurement, loads []float64) error {
	if len(ms) != len(loads) {
		return fmt.Errorf("csv: %d measurements but %d load values", len(ms), len(loads))
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeaderFor(mode)); err != nil {
		return err
	}
	for i, m := range ms {
		if err := cw.Write(CSVRow(m, loads[i])); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// AppendCSVFile adds one row to a perf_analyzer CSV file, writing the
// header first when the file is new or empty. A file with another header
// is left alone and named in the error.
func AppendCSVFile(path string, m *results.Measurement, load float64) error {
	header := csvHeaderFor(m.Mode)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	defer f.Close()
	first, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("csv %s: %w", path, err)
	}
	first = strings.TrimRight(first, "\r\n")
	if first != "" && first != strings.Join(header, ",") {
		return fmt.Errorf("csv %s: line 1 is %q, not the header %q: write to another file", path, first, strings.Join(header, ","))
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("csv %s: %w", path, err)
	}
	cw := csv.NewWriter(f)
	if first == "" {
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("csv %s: %w", path, err)
		}
	}
	if err := cw.Write(CSVRow(m, load)); err != nil {
		return fmt.Errorf("csv %s: %w", path, err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("csv %s: %w", path, err)
	}
	return f.Close()
}

// CSVLoad is the first CSV column for a measurement made with o: total
// concurrency in closed loop, total request rate in open loop.
func CSVLoad(o Options) float64 {
	clients := max(o.Clients, 1)
	if o.Mode == workload.ModeOpen {
		rate := o.Rate
		if rate == 0 {
			rate = o.InferenceRate
		}
		return rate * float64(clients)
	}
	return float64(clients * max(o.Concurrency, 1))
}
