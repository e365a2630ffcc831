package results_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// FuzzRead feeds arbitrary bytes to the results-file reader: it may
// refuse them, never panic, and whatever it accepts is records that
// encode again and read back the same (lossless for what was read).
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"schema":1,"kind":"header","sweep_id":"s","header":{"scenario_yaml":"name: x\n","target":"embedded","env":{}}}` + "\n" +
		`{"schema":1,"kind":"point","point":{"gpus":1,"clients":2,"rate":0.5},"status":"ok","measurement":{"requests":3,"latency":{"p99_us":12.5},"histogram":{"sub_bucket_bits":7,"count":1,"buckets":[[3,1]]}}}` + "\n"))
	f.Add([]byte("{\"schema\":1}\n{\"schema\":1,\"kind\":\"point\",\"point\":{\"clie"))
	f.Add([]byte("not json\n"))
	f.Add([]byte("{\"schema\":99}\n"))
	f.Add([]byte("\n\n  \n{}\n"))
	f.Add([]byte(`{"measurement":{"windows":[{"p99_us":1e308}],"telemetry":{"series":[{"t":[1],"v":[2,3]}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := results.Read(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		for _, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("a record read back does not encode: %v", err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		again, err := results.Read(&buf, "again")
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-reading %d records: %d, %v", len(recs), len(again), err)
		}
		_ = results.Points(recs)
		_ = results.HeaderOf(recs)
	})
}
