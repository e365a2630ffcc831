package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of sweep and simulate (documented in README and their -h).
const (
	exitPartial = 3   // some planned points have no ok record
	exitNothing = 4   // no planned point has an ok record
	exitSIGINT  = 130 // 128 + SIGINT: stopped by Ctrl-C
	exitSIGTERM = 143 // 128 + SIGTERM: stopped by a supervisor
)

// interruption is the cause of a command's context being cancelled by a
// signal: commands read it to say which one and to exit with its code.
type interruption struct{ sig os.Signal }

func (i *interruption) Error() string { return "received " + i.name() }

// name is the signal's conventional name (SIGINT, SIGTERM).
func (i *interruption) name() string {
	switch i.sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return i.sig.String()
}

// code is 128 + the signal's number, as a shell reports a process that
// a signal ended.
func (i *interruption) code() int {
	switch i.sig {
	case os.Interrupt:
		return exitSIGINT
	case syscall.SIGTERM:
		return exitSIGTERM
	}
	if n, ok := i.sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// withSignals is a context cancelled, with an *interruption as its
// cause, by the first SIGINT or SIGTERM.
func withSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			cancel(&interruption{sig: s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// interrupted returns the signal that cancelled ctx, if one did.
func interrupted(ctx context.Context) (*interruption, bool) {
	var in *interruption
	if errors.As(context.Cause(ctx), &in) {
		return in, true
	}
	return nil, false
}

// interruptedError is the error of a command a signal stopped: the
// signal's exit code and a message naming it and what was kept.
func interruptedError(in *interruption, kept string) error {
	return &exitError{code: in.code(), err: fmt.Errorf("%s: %s", in.name(), kept)}
}
