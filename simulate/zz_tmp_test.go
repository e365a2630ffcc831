package simulate

import (
	"context"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

func TestZZRefine(t *testing.T) {
	s := builtin(t, "quickstart")
	env := results.Env{CPUs: 2}
	for _, bg := range []time.Duration{300 * time.Microsecond, 600 * time.Microsecond} {
		truth := Options{Profile: h200(t), Overhead: 60 * time.Microsecond, HostCores: 2, DeviceOnHost: true,
			HandoffAfterReply: true, BackgroundCPU: bg, Env: &env, Seed: 3}
		recs, _ := Run(context.Background(), s, truth, nil)
		measured := []results.Record{{Kind: "header", Header: &results.Header{Target: scenarios.TargetEmbedded, Env: env}}}
		for _, r := range recs {
			r.Source = results.SourceMeasured
			measured = append(measured, r)
		}
		v, err := Validate(context.Background(), s, measured, Options{Profile: h200(t), Env: &env}, FitOverhead|FitHost)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s | %s | ovh %v thr %.1f p99 %.1f", v.Calibration.How, v.Host.How, v.Overhead, v.MaxThroughputErrPct, v.MaxP99ErrPct)
	}
}
