package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// NewLogger builds the agent's one structured logger from log.level and log.format.
func NewLogger(w io.Writer, c LogConfig) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slogLevel(c.Level)}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func slogLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// hclogFor adapts logger for hashicorp libraries, so Raft's lines land in the same
// stream, tagged with component=name.
func hclogFor(logger *slog.Logger, name string) hclog.Logger {
	level := hclog.Info
	ctx := context.Background()
	switch {
	case logger.Enabled(ctx, slog.LevelDebug):
		level = hclog.Debug
	case !logger.Enabled(ctx, slog.LevelInfo):
		level = hclog.Warn
	}
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: name, Level: level, Output: io.Discard})
	l.RegisterSink(slogSink{logger: logger.With("component", name), level: level})
	return l
}

type slogSink struct {
	logger *slog.Logger
	level  hclog.Level
}

func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...interface{}) {
	if level < s.level {
		return
	}
	var l slog.Level
	switch level {
	case hclog.Trace, hclog.Debug:
		l = slog.LevelDebug
	case hclog.Warn:
		l = slog.LevelWarn
	case hclog.Error:
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	attrs := make([]any, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		attrs = append(attrs, fmt.Sprint(args[i]), args[i+1])
	}
	s.logger.Log(context.Background(), l, msg, attrs...)
}
