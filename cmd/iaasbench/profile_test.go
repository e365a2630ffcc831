package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"testing"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/server"
)

// The calibrated model's service time is known (1 ms + 50 us per item by
// default): the profile derived from measuring it must recover it.
func TestProfileRecoversAKnownServiceTime(t *testing.T) {
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	// The profile is the servers' mean compute time per call, which a
	// loaded machine stretches (go test runs packages in parallel, and a
	// late wake-up lengthens a long call more): a correct profiler finds
	// the model's slope on at least one of three tries, a wrong one on none.
	var slope float64
	for try := 0; try < 3; try++ {
		var out bytes.Buffer
		if err := runProfile(context.Background(), []string{"--url", srv.Addr(), "--model", "calibrated", "--batches", "1,8,32", "--duration", "300ms"}, &out); err != nil {
			t.Fatal(err)
		}
		var p device.Profile
		if err := json.Unmarshal(out.Bytes(), &p); err != nil {
			t.Fatalf("profile output is not JSON: %v\n%s", err, out.String())
		}
		if len(p.Points) != 3 {
			t.Fatalf("points: %+v", p.Points)
		}
		// A busy machine wakes instances a little late, so the measured
		// time can exceed the model's; it can never undercut it, and it
		// must grow with the batch.
		late := false // beyond what lateness explains: try again
		for i, pt := range p.Points {
			want := 1000 + 50*float64(pt.Batch)
			late = late || pt.P50US > 1.5*want
			if pt.P50US < 0.97*want {
				t.Errorf("batch %d: profiled %.0f us, the model takes %.0f us", pt.Batch, pt.P50US, want)
			}
			if i > 0 && pt.P50US <= p.Points[i-1].P50US {
				t.Errorf("profile does not grow with the batch: %+v", p.Points)
			}
		}
		if slope = (p.Points[2].P50US - p.Points[0].P50US) / 31; math.Abs(slope-50) <= 15 && !late {
			return
		}
		t.Logf("try %d: %.1f us per item (%+v)", try+1, slope, p.Points)
	}
	t.Errorf("profiled %.1f us per item (the model takes 50), or a call took over 1.5 times the model's time, on every try", slope)
}
