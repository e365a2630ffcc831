package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/server"
)

// profileCalibrated profiles the calibrated model (1 ms + 50 us per item
// by default) at batches 1, 8 and 32 on an embedded server.
func profileCalibrated(t *testing.T) device.Profile {
	t.Helper()
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	var out bytes.Buffer
	if err := runProfile(context.Background(), []string{"--url", srv.Addr(), "--model", "calibrated", "--batches", "1,8,32", "--duration", "300ms"}, &out); err != nil {
		t.Fatal(err)
	}
	var p device.Profile
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		t.Fatalf("profile output is not JSON: %v\n%s", err, out.String())
	}
	return p
}

// The profile has a point per batch asked for, and none undercuts the
// model's known service time: a busy machine wakes instances late, so
// the measured time may exceed it, never fall short. How close it comes
// is TestTimingProfileRecoversAKnownServiceTime (make test-timing).
func TestProfileNeverUndercutsAKnownServiceTime(t *testing.T) {
	p := profileCalibrated(t)
	if len(p.Points) != 3 {
		t.Fatalf("points: %+v", p.Points)
	}
	for i, pt := range p.Points {
		if pt.Batch != []int{1, 8, 32}[i] {
			t.Fatalf("points %+v, want batches 1, 8, 32 in order", p.Points)
		}
		// 3% for the timer's granularity and the mean's rounding.
		if want := 1000 + 50*float64(pt.Batch); pt.P50US < 0.97*want {
			t.Errorf("batch %d: profiled %.0f us, the model takes %.0f us", pt.Batch, pt.P50US, want)
		}
	}
}
