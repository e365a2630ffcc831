package backend

import (
	"syscall"
	"time"
)

// preciseSleep sleeps until shortly before deadline with nanosleep, which
// wakes within tens of microseconds (the thread's timer slack) rather than
// the Go timer's millisecond; the runtime hands the thread's P to other
// goroutines meanwhile.
func preciseSleep(deadline time.Time) {
	const margin = 100 * time.Microsecond
	for {
		rem := time.Until(deadline)
		if rem <= margin+20*time.Microsecond {
			return
		}
		ts := syscall.NsecToTimespec(int64(rem - margin))
		_ = syscall.Nanosleep(&ts, nil)
	}
}
