// Package pprofhttp serves Go's runtime profiles over HTTP on a loopback
// address, for `iaasbench serve --pprof`: the paths `go tool pprof`
// expects (/debug/pprof/profile, /heap, /allocs, /goroutine, …, /trace),
// on a mux of its own. It does not import net/http/pprof, whose init
// registers those handlers on http.DefaultServeMux for any server that
// happens to use it.
package pprofhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"
)

// Server is a running profiling endpoint.
type Server struct {
	lis net.Listener
	srv *http.Server
}

// Start listens on addr, which must be a loopback address (profiles show
// the program's internals and a CPU profile costs CPU time), and serves in
// the background.
func Start(addr string, log *slog.Logger) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pprof address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("pprof address %q: profiles are served on loopback only (127.0.0.1, ::1 or localhost)", addr)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for pprof on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", cpuProfile)
	mux.HandleFunc("/debug/pprof/trace", execTrace)
	mux.HandleFunc("/debug/pprof/", named)
	s := &Server{lis: lis, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof serve", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address the endpoint listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Close stops the endpoint; a profile being taken is cut short.
func (s *Server) Close() error { return s.srv.Close() }

// seconds reads the ?seconds= parameter (default def, at most an hour).
func seconds(r *http.Request, def int) (time.Duration, error) {
	v := r.FormValue("seconds")
	if v == "" {
		return time.Duration(def) * time.Second, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 3600 {
		return 0, fmt.Errorf("seconds=%q: want a whole number of seconds, 1..3600", v)
	}
	return time.Duration(n) * time.Second, nil
}

// sleep waits d or until the client leaves.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func cpuProfile(w http.ResponseWriter, r *http.Request) {
	d, err := seconds(r, 30)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := pprof.StartCPUProfile(w); err != nil {
		http.Error(w, "cpu profile: "+err.Error(), http.StatusInternalServerError) // e.g. one is already running
		return
	}
	sleep(r.Context(), d)
	pprof.StopCPUProfile()
}

func execTrace(w http.ResponseWriter, r *http.Request) {
	d, err := seconds(r, 1)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := trace.Start(w); err != nil {
		http.Error(w, "trace: "+err.Error(), http.StatusInternalServerError)
		return
	}
	sleep(r.Context(), d)
	trace.Stop()
}

// named serves runtime/pprof's named profiles (heap, allocs, goroutine,
// block, mutex, threadcreate) and, at /debug/pprof/, their list.
func named(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/")
	if name == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "profiles: profile?seconds=N (CPU), trace?seconds=N")
		for _, p := range pprof.Profiles() {
			fmt.Fprintf(w, "%s (%d)\n", p.Name(), p.Count())
		}
		return
	}
	p := pprof.Lookup(name)
	if p == nil {
		http.Error(w, fmt.Sprintf("no profile %q", name), http.StatusNotFound)
		return
	}
	debug, _ := strconv.Atoi(r.FormValue("debug"))
	if debug > 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	_ = p.WriteTo(w, debug)
}
