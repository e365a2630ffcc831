package backend

import (
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// preciseSleep sleeps until shortly before deadline on a timerfd read
// through Go's network poller: the goroutine parks and its P runs other
// goroutines, and the poller wakes it within tens of microseconds rather
// than the Go timer's millisecond. (A nanosleep system call would hold
// the P: with every P of a 2-core machine in such sleeps, no goroutine
// ran — not even the network — until the runtime's monitor took a P
// back, and requests waited milliseconds outside the model's queue.)
func preciseSleep(deadline time.Time) {
	rem := time.Until(deadline) - SpinMargin
	if rem <= SpinSlack {
		return
	}
	if timerfdSleep(rem) != nil {
		ts := syscall.NsecToTimespec(int64(rem))
		_ = syscall.Nanosleep(&ts, nil) // holds the P, but sleeps
	}
}

// timerfdSleep parks the calling goroutine for d on a one-shot timerfd.
func timerfdSleep(d time.Duration) error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return err
	}
	// A non-blocking descriptor joins the runtime's poller.
	f := os.NewFile(uintptr(fd), "timerfd")
	defer f.Close()
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(fd, 0, &spec, nil); err != nil {
		return err
	}
	var expirations [8]byte
	_, err = f.Read(expirations[:])
	return err
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
