//go:build !unix

package results

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// lock makes the sidecar itself the lock where flock is missing: it is
// created exclusively and removed on Close. A crash leaves it behind, so
// the message says how to clear it.
func lock(f *os.File, path string) (unlock func(), err error) {
	side := path + LockSuffix
	lf, err := os.OpenFile(side, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			holder := readHolder(path)
			if holder == "" {
				holder = "unknown"
			}
			return nil, &InUseError{Path: path, Holder: holder + "; if that process is gone, delete " + side}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_, werr := lf.WriteString(holderLine() + "\n")
	if cerr := lf.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(side)
		return nil, fmt.Errorf("lock %s: write %s: %w", path, side, werr)
	}
	return func() { _ = os.Remove(side) }, nil
}
