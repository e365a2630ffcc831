package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/measure"
)

// RunAgent takes plans from the coordinator at url until it closes (or
// ctx ends), measuring each with package measure.
func RunAgent(ctx context.Context, url, name string, log *slog.Logger) error {
	return RunAgentWith(ctx, url, name, log, client.Settings{})
}

// RunAgentWith is RunAgent with connection settings of this agent's own
// laid over every plan's (see Overlay): where this agent finds the TLS
// files, and headers whose ${VAR} values come from its environment (a
// pod's Secret, say), so that no secret needs to travel in the plan.
func RunAgentWith(ctx context.Context, url, name string, log *slog.Logger, local client.Settings) error {
	if log == nil {
		log = slog.Default()
	}
	hc := &http.Client{Timeout: 60 * time.Second}
	failures := 0
	for ctx.Err() == nil {
		plan, status, err := next(ctx, hc, url, name)
		switch {
		case err != nil:
			failures++
			if failures > 50 {
				return fmt.Errorf("agent %s: coordinator %s unreachable: %w", name, url, err)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		case status == http.StatusGone:
			return nil
		case status == http.StatusNoContent:
			continue
		}
		failures = 0
		log.Debug("agent: plan", "job", plan.Job, "share", plan.Index, "clients", plan.Opts.Clients)
		if d := time.Until(plan.Start); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		plan.Opts.Conn = Overlay(plan.Opts.Conn, local)
		m, err := measure.Run(ctx, plan.Opts)
		res := Result{Job: plan.Job, Index: plan.Index, Agent: name, Measurement: m}
		if err != nil {
			res.Error = err.Error()
		}
		if err := post(ctx, hc, url, res); err != nil {
			log.Warn("agent: could not return a result", "err", err)
		}
	}
	return ctx.Err()
}

// Overlay lays an agent's own settings over a plan's: each TLS file,
// the authority and the encoding it gives replace the plan's,
// insecure-skip-verify from either holds, and its headers replace the
// plan's of the same name and add to the others.
func Overlay(plan, local client.Settings) client.Settings {
	out := plan
	for _, f := range []struct{ dst, src *string }{
		{&out.CACert, &local.CACert}, {&out.ClientCert, &local.ClientCert}, {&out.ClientKey, &local.ClientKey},
		{&out.Authority, &local.Authority}, {&out.HTTPEncoding, &local.HTTPEncoding},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	out.InsecureSkipVerify = plan.InsecureSkipVerify || local.InsecureSkipVerify
	if len(local.Headers) > 0 {
		out.Headers = nil
		for _, h := range plan.Headers {
			if !slices.ContainsFunc(local.Headers, func(l client.Header) bool { return strings.EqualFold(l.Name, h.Name) }) {
				out.Headers = append(out.Headers, h)
			}
		}
		out.Headers = append(out.Headers, local.Headers...)
	}
	return out
}

func next(ctx context.Context, hc *http.Client, url, name string) (Plan, int, error) {
	var p Plan
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/next?agent="+name, nil)
	if err != nil {
		return p, 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return p, 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			return p, 0, fmt.Errorf("decode plan: %w", err)
		}
	case http.StatusGone, http.StatusNoContent:
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return p, 0, fmt.Errorf("coordinator: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return p, resp.StatusCode, nil
}

func post(ctx context.Context, hc *http.Client, url string, res Result) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/result", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return errors.New(resp.Status + ": " + string(bytes.TrimSpace(msg)))
	}
	return nil
}
