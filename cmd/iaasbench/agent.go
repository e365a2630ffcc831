package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/client"
)

func runAgent(ctx context.Context, args []string, _ io.Writer) error {
	fs := newFlags("agent", os.Stderr)
	coord := fs.String("coordinator", "", "URL of the coordinator (a sweep or measure with agents), e.g. http://10.0.0.5:7070")
	name := fs.String("name", "", "this agent's name (default: host name and process id)")
	// The coordinator's plans carry the sweep's connection settings; these
	// flags, given here, replace them (TLS files where this agent finds
	// them) or add headers whose ${VAR} values come from this agent's
	// environment.
	conn := addConnFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *coord == "" {
		return errors.New("need --coordinator URL")
	}
	if *name == "" {
		h, _ := os.Hostname()
		*name = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	var local client.Settings
	if len(conn.set()) > 0 {
		cs, err := conn.settings(slog.Default())
		if err != nil {
			return err
		}
		if !conn.encodingGiven() {
			cs.HTTPEncoding = "" // the plan's
		}
		local = cs
	}
	err := agent.RunAgentWith(ctx, *coord, *name, slog.Default(), local)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
