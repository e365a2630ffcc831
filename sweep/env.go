package sweep

import (
	"bufio"
	"os"
	goruntime "runtime"
	"strings"

	"github.com/iaasbench/iaasbench/results"
)

// Environment describes this machine for the results header.
func Environment(version string) results.Env {
	host, _ := os.Hostname()
	return results.Env{
		Host: host, OS: goruntime.GOOS, Arch: goruntime.GOARCH, CPU: cpuModel(), CPUs: goruntime.NumCPU(),
		GoVersion: goruntime.Version(), Version: version,
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
