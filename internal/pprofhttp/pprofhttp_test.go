package pprofhttp

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:0", "nonsense"} {
		if s, err := Start(addr, slog.Default()); err == nil {
			s.Close()
			t.Errorf("Start(%q) succeeded; want a refusal of non-loopback addresses", addr)
		}
	}
}

func TestProfiles(t *testing.T) {
	s, err := Start("127.0.0.1:0", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/debug/pprof/profile?seconds=1"); code != 200 || !strings.HasPrefix(body, "\x1f\x8b") {
		t.Errorf("CPU profile: status %d, %d bytes, want 200 and gzipped protobuf", code, len(body))
	}
	if code, body := get("/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("goroutine profile: status %d, body %.80q", code, body)
	}
	if code, _ := get("/debug/pprof/nosuch"); code != 404 {
		t.Errorf("unknown profile: status %d, want 404", code)
	}
	if code, _ := get("/debug/pprof/profile?seconds=x"); code != 400 {
		t.Errorf("bad seconds: status %d, want 400", code)
	}
}
