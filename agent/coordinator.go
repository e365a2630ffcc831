package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/results"
)

// Plan is one agent's share of a measurement.
type Plan struct {
	Job   int             `json:"job"`
	Index int             `json:"index"` // which share, 0..K-1
	Of    int             `json:"of"`
	Start time.Time       `json:"start"` // every agent begins its warm-up at this instant
	Opts  measure.Options `json:"options"`
}

// Result is what an agent sends back.
type Result struct {
	Job         int                  `json:"job"`
	Index       int                  `json:"index"`
	Agent       string               `json:"agent"`
	Measurement *results.Measurement `json:"measurement,omitempty"`
	Error       string               `json:"error,omitempty"`
}

// Coordinator hands out plans over HTTP on loopback (or the address it is
// given) and collects results. Agents connect to it, which suits a
// Kubernetes Job whose pods know the coordinator's address but not each
// other's.
type Coordinator struct {
	log *slog.Logger
	lis net.Listener
	srv *http.Server

	mu      sync.Mutex
	job     int
	pending []Plan         // shares not yet taken
	taken   map[int]string // share index → agent name
	results map[int]Result
	lost    map[string]bool // agents known dead
	changed chan struct{}   // closed and replaced on every change
	closed  bool
}

// NewCoordinator listens on addr ("" = 127.0.0.1:0).
func NewCoordinator(addr string, log *slog.Logger) (*Coordinator, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if log == nil {
		log = slog.Default()
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("coordinator: listen on %s: %w", addr, err)
	}
	c := &Coordinator{log: log, lis: lis, taken: map[int]string{}, results: map[int]Result{}, lost: map[string]bool{}, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /next", c.handleNext)
	mux.HandleFunc("POST /result", c.handleResult)
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.srv.Serve(lis) }()
	return c, nil
}

// URL is where agents connect.
func (c *Coordinator) URL() string { return "http://" + c.lis.Addr().String() }

// Close stops the coordinator; agents polling it exit.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	c.closed = true
	c.notifyLocked()
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.srv.Shutdown(ctx)
}

func (c *Coordinator) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Lost tells the coordinator that an agent died (its process exited), so a
// share it holds is given up at once instead of at the deadline.
func (c *Coordinator) Lost(agent string) {
	c.mu.Lock()
	c.lost[agent] = true
	c.notifyLocked()
	c.mu.Unlock()
}

// Split divides a measurement into k plans: clients spread as evenly as
// possible, correlation ids kept apart, a common start. Agents measure a
// fixed duration so that their windows line up: a plan that would stop on
// stability measures StableWindows windows instead.
func Split(opts measure.Options, k int, start time.Time) ([]Plan, error) {
	if k <= 0 {
		return nil, errors.New("split: need at least one agent")
	}
	clients := max(opts.Clients, 1)
	if clients < k {
		return nil, fmt.Errorf("split: %d clients cannot be spread over %d agents", clients, k)
	}
	if opts.Duration <= 0 && opts.Requests <= 0 && opts.DataSeconds <= 0 {
		w := opts.Window
		if w <= 0 {
			w = time.Second
		}
		opts.Duration = w * time.Duration(max(opts.StableWindows, 3))
	}
	base := opts.SequenceIDBase
	if base == 0 {
		base = (start.UnixNano() & 0x7fffffff) << 16
	}
	var plans []Plan
	for i := 0; i < k; i++ {
		o := opts
		o.Clients = clients / k
		if i < clients%k {
			o.Clients++
		}
		o.SequenceIDBase = base + int64(i)*1_000_000
		if opts.Requests > 0 {
			o.Requests = opts.Requests * int64(o.Clients) / int64(clients)
		}
		if opts.DataSeconds > 0 {
			o.DataSeconds = opts.DataSeconds * float64(o.Clients) / float64(clients)
		}
		o.Progress, o.Logger, o.Samplers = nil, nil, nil
		if i > 0 {
			o.NoTelemetry = true // one agent's telemetry describes the machine
		}
		plans = append(plans, Plan{Index: i, Of: k, Start: start, Opts: o})
	}
	return plans, nil
}

// Measure runs one measurement over k agents and merges their results.
// Agents that never pick up their share, die, or miss the deadline leave
// the merged measurement incomplete (and the error says so).
func (c *Coordinator) Measure(ctx context.Context, opts measure.Options, k int, grace time.Duration) (*results.Measurement, error) {
	start := time.Now().Add(300 * time.Millisecond)
	plans, err := Split(opts, k, start)
	if err != nil {
		return nil, err
	}
	expected := plans[0].Opts.Warmup + plans[0].Opts.Duration
	if plans[0].Opts.Warmup <= 0 {
		expected = time.Second + plans[0].Opts.Duration
	}
	if grace <= 0 {
		grace = 10 * time.Second
	}
	deadline := start.Add(expected + grace)
	if plans[0].Opts.Requests > 0 || plans[0].Opts.DataSeconds > 0 {
		deadline = start.Add(10 * time.Minute)
	}
	c.mu.Lock()
	c.job++
	job := c.job
	for i := range plans {
		plans[i].Job = job
	}
	c.pending = plans
	c.taken = map[int]string{}
	c.results = map[int]Result{}
	c.notifyLocked()
	c.mu.Unlock()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		c.mu.Lock()
		done := len(c.results)
		gaveUp := 0
		for idx, name := range c.taken {
			if _, ok := c.results[idx]; !ok && c.lost[name] {
				gaveUp++
			}
		}
		ch := c.changed
		c.mu.Unlock()
		if done+gaveUp >= k {
			break
		}
		select {
		case <-ch:
			continue
		case <-timer.C:
		case <-ctx.Done():
		}
		break
	}
	c.mu.Lock()
	c.pending = nil
	parts := make([]*results.Measurement, 0, k)
	var errs []string
	for i := 0; i < k; i++ {
		r, ok := c.results[i]
		switch {
		case !ok:
			who := c.taken[i]
			if who == "" {
				who = "no agent took it"
			}
			errs = append(errs, fmt.Sprintf("share %d (%s): no result", i, who))
		case r.Measurement == nil:
			errs = append(errs, fmt.Sprintf("share %d (%s): %s", i, r.Agent, r.Error))
		default:
			parts = append(parts, r.Measurement)
			if r.Error != "" {
				errs = append(errs, fmt.Sprintf("share %d (%s): %s", i, r.Agent, r.Error))
			}
		}
	}
	c.mu.Unlock()
	if len(parts) == 0 {
		return nil, fmt.Errorf("no agent returned a measurement: %v", errs)
	}
	m, err := Merge(parts, k)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		m.Incomplete = true
		m.Error = joinErr(m.Error, fmt.Sprint(errs))
		return m, fmt.Errorf("agents: %v", errs)
	}
	return m, ctx.Err()
}

// handleNext long-polls for a share of the current job.
func (c *Coordinator) handleNext(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("agent")
	if name == "" {
		http.Error(w, "missing agent name", http.StatusBadRequest)
		return
	}
	wait := time.NewTimer(20 * time.Second)
	defer wait.Stop()
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			http.Error(w, "coordinator closed", http.StatusGone)
			return
		}
		// One share per agent per job: shares run at the same time, so an
		// agent that took two would run the second after the first and the
		// merged figures would add windows that never overlapped.
		mine := false
		for _, who := range c.taken {
			mine = mine || who == name
		}
		if len(c.pending) > 0 && !mine {
			p := c.pending[0]
			c.pending = c.pending[1:]
			c.taken[p.Index] = name
			c.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(p)
			return
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-wait.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (c *Coordinator) handleResult(w http.ResponseWriter, r *http.Request) {
	var res Result
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256<<20)).Decode(&res); err != nil {
		http.Error(w, "bad result: "+err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if res.Job != c.job {
		http.Error(w, fmt.Sprintf("result for job %d, current job is %d", res.Job, c.job), http.StatusConflict)
		return
	}
	c.results[res.Index] = res
	c.notifyLocked()
	w.WriteHeader(http.StatusNoContent)
}
