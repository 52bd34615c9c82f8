package test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Command sets up one of the lab commands (demo, figures, bench, soak) named name: it
// checks that the lab can run here and returns a context that the first Ctrl-C or
// SIGTERM cancels (a second one kills the command at once), and a cleanup to defer.
// When the lab cannot run, it prints why to stderr and ok is false.
func Command(name string) (ctx context.Context, cleanup func(), ok bool) {
	if p := RootProblem(); p != "" {
		fmt.Fprintln(os.Stderr, name+":", p)
		return nil, nil, false
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }()
	return ctx, func() { stop(); RemoveBuiltBinary() }, true
}
