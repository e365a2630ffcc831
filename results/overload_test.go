package results_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// Files written before rejections were recorded read with the new
// figures at zero; new records keep them.
func TestRejectionFieldsOldAndNew(t *testing.T) {
	old := `{"schema":1,"kind":"point","point":{"clients":2},"status":"ok","measurement":{"model":"mlp","mode":"closed","rpc":"unary","requests":100,"errors":0,"throughput_rps":50,"throughput_ips":50,"latency":{},"stable":true}}` + "\n"
	recs, err := results.Read(strings.NewReader(old), "old.jsonl")
	if err != nil || len(recs) != 1 {
		t.Fatalf("old record: %v", err)
	}
	if m := recs[0].Measurement; m.Rejected != 0 || m.OfferedRPS != 0 || m.RejectionRate != 0 || m.ThroughputRPS != 50 {
		t.Fatalf("old record read as %+v", m)
	}
	rec := results.Record{Schema: results.SchemaVersion, Kind: results.KindPoint, Status: results.StatusOK,
		Measurement: &results.Measurement{Requests: 90, Rejected: 10, ThroughputRPS: 45, OfferedRPS: 50, RejectedRPS: 5, RejectionRate: 0.1,
			Windows: []results.Window{{DurationS: 1, ThroughputIPS: 45, RejectedRPS: 5}}}}
	line, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	b := string(line)
	for _, field := range []string{`"rejected":10`, `"offered_rps":50`, `"rejected_rps":5`, `"rejection_rate":0.1`} {
		if !strings.Contains(b, field) {
			t.Errorf("record %s lacks %s", b, field)
		}
	}
	back, err := results.Read(strings.NewReader(b+"\n"), "new.jsonl")
	if err != nil || back[0].Measurement.Rejected != 10 || back[0].Measurement.Windows[0].RejectedRPS != 5 {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}
