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

var agentHelp = help{
	aliases: connAliases,
	usage:   "agent --coordinator URL [flags]",
	about: `A load agent: takes measurement plans from a coordinator (a sweep or
measure whose scenario has agents), measures them and returns the
histograms. Connection flags given here replace the plan's. How agents
split the load: docs/kubernetes.md.`,
	examples: []string{
		"iaasbench agent --coordinator http://10.0.0.5:7070",
		"iaasbench agent --coordinator http://10.0.0.5:7070 --name rack2-a --ca-cert /etc/ca.pem",
	},
}

func runAgent(ctx context.Context, args []string, out io.Writer) error {
	fs := newCmdFlags("agent", agentHelp)
	coord := fs.String("coordinator", "", "`URL` of the coordinator, e.g. http://10.0.0.5:7070")
	name := fs.String("name", "", "this agent's `NAME` (default: host name and process id)")
	// The coordinator's plans carry the sweep's connection settings; these
	// flags, given here, replace them (TLS files where this agent finds
	// them) or add headers whose ${VAR} values come from this agent's
	// environment.
	conn := addConnFlags(fs.FlagSet)
	if err := fs.parseFlagsOnly(args, out); err != nil {
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
