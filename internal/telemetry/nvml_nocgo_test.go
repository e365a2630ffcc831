//go:build !cgo

package telemetry

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestNVMLWithoutCgoIsOneNote(t *testing.T) {
	s := NewNVML(0)
	s.Start(context.Background(), time.Now())
	series, notes := s.Stop()
	if len(series) != 0 || len(notes) != 1 || !strings.HasPrefix(notes[0], "built without cgo: NVML unavailable") {
		t.Errorf("series %v notes %q", series, notes)
	}
	if _, err := s.Info(); err == nil {
		t.Error("Info without cgo returned no error")
	}
}
