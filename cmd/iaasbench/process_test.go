package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/results"
)

// asMainEnv makes the test binary run as iaasbench itself (see TestMain),
// so that these tests drive real processes (a sweep, a server) and real
// signals without building a second binary.
const asMainEnv = "IAASBENCH_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer a process writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is an iaasbench process started by a test.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
	err            error
}

// start runs `iaasbench args...` in dir; the process is killed when the
// test ends if it still runs.
func start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(os.Args[0], args...), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), asMainEnv+"=1", "IAASBENCH_LOG=warn")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait returns the exit code; a process that outlives the limit fails the
// test (a hung sweep is a bug, not slowness: every point has its timeout).
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(3 * time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%v did not end; stderr:\n%s", p.cmd.Args[1:], p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// runIaasbench runs a command to its end and returns its code and output.
func runIaasbench(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := start(t, dir, args...)
	code = p.wait(t)
	return code, p.stdout.String(), p.stderr.String()
}

// serve starts `iaasbench serve` on a loopback port and returns it with
// its gRPC address.
func serve(t *testing.T, dir string, args ...string) (*proc, string) {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--http-addr", "off", "--metrics-addr", "off"}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), asMainEnv+"=1", "IAASBENCH_LOG=warn")
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := regexp.MustCompile(`gRPC on (?:grpc://)?([^,\s]+),`).FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case a := <-addr:
		return p, a
	case <-p.done:
		t.Fatalf("serve ended: %v\n%s", p.err, p.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("serve printed no address; stderr:\n%s", p.stderr.String())
	}
	return nil, ""
}

// kill ends a server at once, as a crash would, and waits until it is gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// pause and resume freeze a process (SIGSTOP/SIGCONT) so that a test acts
// between two of its steps whatever the machine's load.
func (p *proc) pause(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

func (p *proc) resume(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls until cond holds; the limit only catches a stuck process.
func waitFor(t *testing.T, p *proc, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		select {
		case <-p.done:
			t.Fatalf("process ended before %s: %v\nstdout:\n%s\nstderr:\n%s", what, p.err, p.stdout.String(), p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 2 minutes; stderr:\n%s", what, p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pointRecords reads the point records of a results file (none if absent).
func pointRecords(path string) []results.Record {
	recs, _ := results.ReadFile(path)
	return results.Points(recs)
}

// writeScenario writes a scenario of the calibrated model (2 ms per
// call) with the given dimensions and returns its path. Its cost model
// (3 USD per GPU-hour, p99 <= 500ms) differs from the default prices, so
// that a reader that lost it shows.
func writeScenario(t *testing.T, dir, dims string) string {
	t.Helper()
	y := fmt.Sprintf(`name: exit-codes
workload: {model: calibrated, mode: closed, rpc: unary}
dimensions: {%s}
server:
  calibrated: {base_us: 2000}
  emulated_gpu_profile: h200-mlp   # the embedded server's: ignored at --url
measure: {warmup: 100ms, duration: 300ms}
cost:
  prices: {gpu_hour: {default: 3}}
  constraints: ["p99 <= 500ms"]
  objective: usd_per_million
gate: {min_trials: 1, thresholds: {throughput: "-50%%"}}
`, dims)
	path := filepath.Join(dir, "scenario.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, got)
		}
	}
}
