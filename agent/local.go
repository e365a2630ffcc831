package agent

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
)

// Local runs K agent processes on this machine over the same protocol as
// a cluster's agents, so the distributed path is exercised on a laptop.
type Local struct {
	coord *Coordinator
	cmds  []*exec.Cmd
	wg    sync.WaitGroup
}

// CommandFunc builds the command of one agent process.
type CommandFunc func(coordinatorURL, name string) *exec.Cmd

// SelfCommand runs this executable's `agent` subcommand.
func SelfCommand(coordinatorURL, name string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, "agent", "--coordinator", coordinatorURL, "--name", name)
}

// StartLocal starts k agents connected to coord. When a process exits, its
// share (if any) is given up at once.
func StartLocal(coord *Coordinator, k int, command CommandFunc) (*Local, error) {
	if command == nil {
		command = SelfCommand
	}
	l := &Local{coord: coord}
	for i := 0; i < k; i++ {
		name := fmt.Sprintf("local-%d", i)
		cmd := command(coord.URL(), name)
		cmd.Stderr = os.Stderr
		if os.Getenv("GOMAXPROCS") == "" {
			// K runtimes each sized for the whole machine oversubscribe
			// it; share the cores out instead.
			if cmd.Env == nil {
				cmd.Env = os.Environ()
			}
			cmd.Env = append(cmd.Env, fmt.Sprintf("GOMAXPROCS=%d", max(1, runtime.NumCPU()/k)))
		}
		if err := cmd.Start(); err != nil {
			l.Close()
			return nil, fmt.Errorf("start agent %s: %w", name, err)
		}
		l.cmds = append(l.cmds, cmd)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			_ = cmd.Wait()
			coord.Lost(name)
		}()
	}
	return l, nil
}

// Processes are the agents' processes (tests kill one).
func (l *Local) Processes() []*os.Process {
	var out []*os.Process
	for _, c := range l.cmds {
		out = append(out, c.Process)
	}
	return out
}

// Close ends the agents.
func (l *Local) Close() {
	for _, c := range l.cmds {
		if c.Process != nil {
			_ = c.Process.Kill()
		}
	}
	l.wg.Wait()
}

// Pool is a coordinator with its local agents, as a sweep uses them.
type Pool struct {
	*Coordinator
	local *Local
	k     int
}

// StartPool starts a coordinator and k local agents.
func StartPool(k int, command CommandFunc) (*Pool, error) {
	coord, err := NewCoordinator("", nil)
	if err != nil {
		return nil, err
	}
	l, err := StartLocal(coord, k, command)
	if err != nil {
		coord.Close()
		return nil, err
	}
	return &Pool{Coordinator: coord, local: l, k: k}, nil
}

// K is the number of agents.
func (p *Pool) K() int { return p.k }

// Local is the pool's processes.
func (p *Pool) Local() *Local { return p.local }

// Close stops the agents and the coordinator.
func (p *Pool) Close() {
	p.Coordinator.Close()
	p.local.Close()
}
