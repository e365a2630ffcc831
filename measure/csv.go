package measure

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/results/pacsv"
	"github.com/iaasbench/iaasbench/workload"
)

// csvRow is one measurement as a perf_analyzer CSV row (package pacsv).
// load is the first column: total concurrency (closed loop) or total
// request rate (open loop).
func csvRow(m *results.Measurement, load float64) []string {
	return pacsv.Fields(pacsv.Row{Load: load, M: m}, pacsv.Options{RequestRate: m.Mode == workload.ModeOpen})
}

// WriteCSV writes a header and one row per measurement, sorted by
// throughput as perf_analyzer sorts them. loads are the first column of
// each row (see csvRow).
func WriteCSV(w io.Writer, mode string, ms []*results.Measurement, loads []float64) error {
	if len(ms) != len(loads) {
		return fmt.Errorf("csv: %d measurements but %d load values", len(ms), len(loads))
	}
	rows := make([]pacsv.Row, len(ms))
	for i, m := range ms {
		rows[i] = pacsv.Row{Load: loads[i], M: m}
	}
	return pacsv.Write(w, rows, pacsv.Options{RequestRate: mode == workload.ModeOpen})
}

// AppendCSVFile adds one row to a perf_analyzer CSV file, writing the
// header first when the file is new or empty. A file with another header
// is left alone and named in the error.
func AppendCSVFile(path string, m *results.Measurement, load float64) error {
	header := pacsv.Header(pacsv.Options{RequestRate: m.Mode == workload.ModeOpen})
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
	if err := cw.Write(csvRow(m, load)); err != nil {
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
