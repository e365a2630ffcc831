package backend

import (
	"runtime"
	"syscall"
	"time"
)

// preciseSleep sleeps until shortly before deadline with nanosleep, which
// wakes within tens of microseconds (the thread's timer slack) rather than
// the Go timer's millisecond; the runtime hands the thread's P to other
// goroutines meanwhile. Busy then spins the last ~100 µs, as a CUDA host
// thread spin-waits on its stream: tried here, sleeping closer to the
// deadline (timer slack set to 1 ns) lowered p99 at 2+ clients but let the
// cores idle between calls, and each wake-up on this VM then cost ~50 µs,
// cutting one-client throughput by a third.
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

// yieldCPU gives the core to any other runnable thread, goroutine first:
// a spinning thread otherwise keeps a woken network thread waiting for the
// scheduler's wake-up granularity (~4 ms here). Measured on the quickstart
// sweep: p99 at 2+ clients fell from 2–4.5 ms to under 2 ms. Busy yields
// every 16th turn of its spin: yielding on every turn cost a third of the
// one-client throughput in system calls.
func yieldCPU() {
	runtime.Gosched()
	_, _, _ = syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
}
