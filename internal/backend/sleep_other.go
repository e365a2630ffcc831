//go:build !linux

package backend

import (
	"runtime"
	"time"
)

// preciseSleep falls back to the Go timer where nanosleep is not used;
// Busy's final spin makes up the rest.
func preciseSleep(deadline time.Time) {
	if rem := time.Until(deadline) - 2*time.Millisecond; rem > 0 {
		time.Sleep(rem)
	}
}

// yieldCPU lets other goroutines run during the final spin.
func yieldCPU() { runtime.Gosched() }
