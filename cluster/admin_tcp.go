package cluster

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
)

// The optional TCP admin listener (admin.listen): the admin API of the unix socket,
// for tools that cannot reach the socket, behind a bearer token read from
// admin.token_file. It is plain HTTP: keep it on loopback or a management network.

// listenTCP serves the admin API on admin.listen too, if it is set.
func (a *adminServer) listenTCP(c config.AdminConfig, logger *slog.Logger) error {
	if c.Listen == "" {
		return nil
	}
	token, msg := config.ReadToken(c.TokenFile)
	if msg != "" {
		return fmt.Errorf("cluster: admin.token_file: %s", msg)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("cluster: listen on admin.listen %s: %w", c.Listen, err)
	}
	a.tcp = &http.Server{Handler: requireToken(token, a.srv.Handler, logger, time.Now), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() {
		if err := a.tcp.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("TCP admin API stopped", "err", err)
		}
	}()
	logger.Info("admin API listening on TCP, token required", "listen", ln.Addr().String())
	return nil
}

// closeTCP stops the TCP admin listener, if there is one.
func (a *adminServer) closeTCP(ctx context.Context) {
	if a.tcp != nil {
		a.tcp.Shutdown(ctx)
	}
}

// authLogEvery is how often refused admin requests are logged.
const authLogEvery = 10 * time.Second

// requireToken passes requests that carry "Authorization: Bearer <token>" to next and
// answers every other with 401 and a JSON error. The comparison takes the same time
// whatever the token sent (both sides are hashed first, so not even its length shows).
func requireToken(token string, next http.Handler, logger *slog.Logger, now func() time.Time) http.Handler {
	want := sha256.Sum256([]byte(token))
	var mu sync.Mutex
	var lastLog time.Time
	var held int
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if subtle.ConstantTimeCompare(sum[:], want[:]) == 1 && ok {
			next.ServeHTTP(w, r)
			return
		}
		why := "no bearer token"
		if ok {
			why = "wrong token"
		}
		mu.Lock()
		t := now()
		logIt, repeated := t.Sub(lastLog) >= authLogEvery, held
		if logIt {
			lastLog, held = t, 0
		} else {
			held++
		}
		mu.Unlock()
		if logIt {
			attrs := []any{"remote", r.RemoteAddr, "why", why, "path", r.URL.Path}
			if repeated > 0 {
				attrs = append(attrs, "repeated", repeated)
			}
			logger.Warn("TCP admin API: refused a request without the right token", attrs...)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="raftvip"`)
		writeJSON(w, http.StatusUnauthorized, api.ErrorBody{Error: "unauthorized (" + why + "): send the token of admin.token_file as \"Authorization: Bearer <token>\" (raftvip --token-file FILE, or RAFTVIP_TOKEN_FILE)"})
	})
}
