package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/scenarios"
)

// Wiring is how a sweep of a scenario measures: in this process, through
// load agents started here, or through agents that run in a Kubernetes
// cluster beside the servers. Lay it over Options with Apply and Close
// it when the sweep is over.
type Wiring struct {
	Target  Target // nil: Run builds it from the scenario
	Measure Measurer
	SweepID string // set where the target labels what it creates
	closers []func() error
}

// Wire picks the measurer (and, on Kubernetes with agents, the target)
// for a sweep of s that writes to resultsPath: without agents, package
// measure in this process (with log); with agents, K local agent
// processes, or on Kubernetes a Job of K agents that dial a coordinator
// listening here.
func Wire(ctx context.Context, s *scenarios.Scenario, resultsPath string, log *slog.Logger) (w *Wiring, err error) {
	w = &Wiring{Measure: MeasureWith(log, nil)}
	defer func() {
		if err != nil {
			w.Close()
			w = nil
		}
	}()
	switch {
	case s.Agents > 0 && s.Target.Kind == scenarios.TargetKubernetes:
		kc := s.Target.Kubernetes
		if kc.CoordinatorListen == "" || kc.CoordinatorURL == "" {
			return w, fmt.Errorf("scenario %s: agents on Kubernetes need target.kubernetes.coordinator_listen and coordinator_url (where the agents' pods reach this machine)", s.Name)
		}
		// Objects are labelled by the sweep's ID: a resumed sweep adopts
		// its own.
		w.SweepID = IDOf(resultsPath, s)
		kt, err := NewKubernetes(ctx, s, w.SweepID, log)
		if err != nil {
			return w, err
		}
		w.closers = append(w.closers, kt.Close)
		coord, err := agent.NewCoordinator(kc.CoordinatorListen, log)
		if err != nil {
			return w, err
		}
		w.closers = append(w.closers, coord.Close)
		if err := kt.StartAgents(ctx, s.Agents, kc.CoordinatorURL); err != nil {
			return w, err
		}
		w.Target, w.Measure = kt, MeasureWithAgents(coord, s.Agents, log)
	case s.Agents > 0:
		pool, err := agent.StartPool(s.Agents, agent.SelfCommand)
		if err != nil {
			return w, err
		}
		w.closers = append(w.closers, func() error { pool.Close(); return nil })
		w.Measure = MeasureWithAgents(pool.Coordinator, pool.K(), log)
	}
	return w, nil
}

// Apply sets the wiring's target, measurer and sweep ID in opts.
func (w *Wiring) Apply(opts *Options) {
	opts.Target, opts.Measure, opts.SweepID = w.Target, w.Measure, w.SweepID
}

// Close stops what Wire started, the last first.
func (w *Wiring) Close() error {
	var errs []error
	for i := len(w.closers) - 1; i >= 0; i-- {
		errs = append(errs, w.closers[i]())
	}
	w.closers = nil
	return errors.Join(errs...)
}
