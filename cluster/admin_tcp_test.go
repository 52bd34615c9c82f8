package cluster

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
)

func TestRequireToken(t *testing.T) {
	lb := &logBuffer{}
	h := requireToken("s3cret-token-0123456789", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
	}), slog.New(slog.NewTextHandler(lb, nil)), time.Now)
	for _, tc := range []struct {
		auth string
		code int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Basic s3cret-token-0123456789", http.StatusUnauthorized},
		{"Bearer s3cret-token-0123456789", http.StatusOK},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/v1/status", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		r.RemoteAddr = "198.18.0.100:5555"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.code {
			t.Errorf("%q: %d, want %d", tc.auth, w.Code, tc.code)
		}
		var e api.ErrorBody
		json.Unmarshal(w.Body.Bytes(), &e)
		if tc.code == http.StatusUnauthorized && (!strings.HasPrefix(e.Error, "unauthorized") || w.Header().Get("WWW-Authenticate") == "") {
			t.Errorf("%q: body %s, headers %v", tc.auth, w.Body.String(), w.Header())
		}
	}
	if s := lb.String(); strings.Count(s, "refused a request") != 1 || !strings.Contains(s, "198.18.0.100") {
		t.Errorf("log (one line per 10s):\n%s", s)
	}
}
