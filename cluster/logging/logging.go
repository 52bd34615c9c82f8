package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/cluster/config"
)

// New builds the agent's one structured logger from log.level and log.format.
func New(w io.Writer, c config.LogConfig) *slog.Logger {
	logger, _ := NewWithLevel(w, c)
	return logger
}

// NewWithLevel is New, and the level it filters at, which a reload can change.
func NewWithLevel(w io.Writer, c config.LogConfig) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(Level(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}

// Level is the slog level of a log.level word; anything unknown is info.
func Level(s string) slog.Level {
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

// repeatWindow is how often one repeated warning (same message, same peer) from Raft
// may reach the log. A dead peer otherwise costs several error lines a second.
const repeatWindow = 5 * time.Second

// HCLog adapts logger for hashicorp libraries, so Raft's lines land in the same
// stream, tagged with component=name.
func HCLog(logger *slog.Logger, name string) hclog.Logger {
	return HCLogObserved(logger, name, nil)
}

// HCLogObserved is HCLog, and observe (if not nil) sees every line's message before
// any filtering, so that a line the library logs for an event can be counted.
func HCLogObserved(logger *slog.Logger, name string, observe func(msg string)) hclog.Logger {
	level := hclog.Info
	ctx := context.Background()
	switch {
	case logger.Enabled(ctx, slog.LevelDebug):
		level = hclog.Debug
	case !logger.Enabled(ctx, slog.LevelInfo):
		level = hclog.Warn
	}
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: name, Level: level, Output: io.Discard})
	l.RegisterSink(&slogSink{
		logger:  logger.With("component", name),
		level:   level,
		now:     time.Now,
		seen:    map[string]*repeat{},
		observe: observe,
	})
	return l
}

// slogSink forwards hclog lines to slog. Warnings and errors that repeat for the same
// peer are passed at most once per repeatWindow, with the number held back.
type slogSink struct {
	logger *slog.Logger
	level  hclog.Level
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*repeat

	observe func(msg string) // sees every message, if set
}

type repeat struct {
	last       time.Time
	suppressed int
}

func (s *slogSink) Accept(_ string, level hclog.Level, msg string, args ...interface{}) {
	if s.observe != nil {
		s.observe(msg)
	}
	if level < s.level {
		return
	}
	attrs := make([]any, 0, len(args)+2)
	var peer string
	for i := 0; i+1 < len(args); i += 2 {
		key := fmt.Sprint(args[i])
		val := args[i+1]
		if f, ok := val.(hclog.Format); ok && len(f) > 0 {
			if format, ok := f[0].(string); ok {
				val = fmt.Sprintf(format, f[1:]...)
			}
		}
		switch key {
		case "peer", "target", "server-id", "from":
			peer = fmt.Sprint(val)
		}
		attrs = append(attrs, key, val)
	}
	if level >= hclog.Warn {
		held, ok := s.admit(msg + "\x00" + peer)
		if !ok {
			return
		}
		if held > 0 {
			attrs = append(attrs, "repeated", held)
		}
	}
	s.logger.Log(context.Background(), slogLevelOf(level), msg, attrs...)
}

// admit reports whether a warning may be logged now, and how many were held back since
// the last one that was.
func (s *slogSink) admit(key string) (held int, ok bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.seen[key]
	if r == nil {
		if len(s.seen) > 1024 { // peers come and go; forget old keys
			clear(s.seen)
		}
		s.seen[key] = &repeat{last: now}
		return 0, true
	}
	if now.Sub(r.last) < repeatWindow {
		r.suppressed++
		return 0, false
	}
	held, r.suppressed, r.last = r.suppressed, 0, now
	return held, true
}

func slogLevelOf(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}
