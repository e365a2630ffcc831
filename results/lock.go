package results

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// LockSuffix names the sidecar beside a results file that says which
// process writes it: <file>.lock.
const LockSuffix = ".lock"

// ErrInUse is what Create's error wraps when another process writes the
// file.
var ErrInUse = errors.New("results file in use")

// InUseError says that another process holds a results file.
type InUseError struct {
	Path string
	// Holder is the holder's line from the sidecar, e.g. "pid 1234 on
	// host h since 2025-01-02T15:04:05Z"; empty when it could not be read.
	Holder string
}

func (e *InUseError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "a process whose pid could not be read from " + e.Path + LockSuffix
	}
	return fmt.Sprintf("%s is being written by another iaasbench (%s): one writer per results file; wait for it to finish or choose another results file", e.Path, holder)
}

func (e *InUseError) Unwrap() error { return ErrInUse }

// holderLine describes this process for the sidecar.
func holderLine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("pid %d on host %s since %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
}

// readHolder returns the sidecar's first line, bounded: it is printed.
func readHolder(path string) string {
	b, err := os.ReadFile(path + LockSuffix)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if len(line) > 200 {
		line = line[:200]
	}
	return strings.TrimSpace(line)
}
