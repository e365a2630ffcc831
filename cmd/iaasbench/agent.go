package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/iaasbench/iaasbench/agent"
)

func runAgent(ctx context.Context, args []string, _ io.Writer) error {
	fs := newFlags("agent", os.Stderr)
	coord := fs.String("coordinator", "", "URL of the coordinator (a sweep or measure with agents), e.g. http://10.0.0.5:7070")
	name := fs.String("name", "", "this agent's name (default: host name and process id)")
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
	err := agentRun(ctx, *coord, *name, slog.Default())
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

var agentRun = agent.RunAgent
