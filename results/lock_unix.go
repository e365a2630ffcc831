//go:build unix

package results

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lock takes an exclusive advisory lock (flock) on the open results file
// for as long as f stays open: the kernel drops it when the process
// dies, so a crash never leaves a stale lock. The sidecar only names the
// holder for the message a second writer prints.
func lock(f *os.File, path string) (unlock func(), err error) {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &InUseError{Path: path, Holder: readHolder(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	side := path + LockSuffix
	if err := os.WriteFile(side, []byte(holderLine()+"\n"), 0o644); err != nil {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return nil, fmt.Errorf("lock %s: write %s: %w", path, side, err)
	}
	// The sidecar goes before the lock is released, so that it never
	// names a process that no longer holds the file.
	return func() { _ = os.Remove(side) }, nil
}
