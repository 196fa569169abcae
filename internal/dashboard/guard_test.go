package dashboard_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/dashboard"
)

// wantHeaders are on every answer of the guard, whatever its status.
var wantHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Cache-Control":                "no-store",
}

const testToken = "s3cret-token-0123456789"

type guardCase struct {
	method string
	target string
	host   string            // "" : 127.0.0.1:9479
	header map[string]string // added to the request
	body   string
	code   int
}

// serveGuarded runs one request through Guard(c) in front of a page that
// answers 200 "page", and reports whether the page was reached.
func serveGuarded(t *testing.T, c dashboard.GuardConfig, tc guardCase) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	reached := false
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		if r.Body != http.NoBody {
			t.Errorf("the page got a request body %T, want http.NoBody", r.Body)
		}
		io.WriteString(w, "page")
	})
	var body io.Reader
	if tc.body != "" {
		body = strings.NewReader(tc.body)
	}
	req := httptest.NewRequest(tc.method, tc.target, body)
	req.Host = tc.host
	if tc.host == "" {
		req.Host = "127.0.0.1:9479"
	}
	for k, v := range tc.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	dashboard.Guard(c, page).ServeHTTP(rec, req)
	return rec, reached
}

func checkGuarded(t *testing.T, c dashboard.GuardConfig, tc guardCase) *httptest.ResponseRecorder {
	t.Helper()
	rec, reached := serveGuarded(t, c, tc)
	if rec.Code != tc.code {
		t.Errorf("status %d, want %d (%s)", rec.Code, tc.code, strings.TrimSpace(rec.Body.String()))
	}
	if want := tc.code == http.StatusOK; reached != want {
		t.Errorf("page reached: %v, want %v", reached, want)
	}
	got := map[string]string{}
	for k := range wantHeaders {
		got[k] = rec.Header().Get(k)
	}
	if d := cmp.Diff(wantHeaders, got); d != "" {
		t.Errorf("security headers (-want +got):\n%s", d)
	}
	return rec
}

func TestGuardMethods(t *testing.T) {
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"} {
		t.Run(m, func(t *testing.T) {
			rec := checkGuarded(t, dashboard.GuardConfig{}, guardCase{method: m, target: "/", code: 405})
			if a := rec.Header().Get("Allow"); a != "GET, HEAD" {
				t.Errorf("Allow %q, want GET, HEAD", a)
			}
		})
	}
	for _, m := range []string{"GET", "HEAD"} {
		t.Run(m, func(t *testing.T) {
			checkGuarded(t, dashboard.GuardConfig{}, guardCase{method: m, target: "/", code: 200})
		})
	}
}

func TestGuardHost(t *testing.T) {
	c := dashboard.GuardConfig{Hosts: []string{"192.0.2.10", "tunnel.example"}}
	tests := []struct {
		host string
		code int
	}{
		{"localhost:9479", 200},
		{"localhost", 200},
		{"127.0.0.1", 200},
		{"127.0.0.1:9479", 200},
		{"[::1]:9479", 200},
		{"192.0.2.10:9479", 200},
		{"tunnel.example", 200},
		{"evil.example", 403},
		{"evil.example:9479", 403},
		{"localhost.evil.example", 403},
		{"192.0.2.11:9479", 403},
		{" ", 403},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			checkGuarded(t, c, guardCase{method: "GET", target: "/", host: tt.host, code: tt.code})
		})
	}
}

func TestGuardPaths(t *testing.T) {
	tests := []struct {
		target string
		code   int
	}{
		{"/report/..%2f..%2fetc%2fpasswd", 404},
		{"/report/%2e%2e/x", 404},
		{"/report/%2E%2E/x", 404},
		{"/report/../x", 404},
		{"/report/..", 404},
		{"/report/a%2Fb", 404},
		{"/report/a%5cb", 404},
		{`/report/a\b`, 404},
		{"/report/%252e%252e/x", 404},
		{"/report/a%00b", 404},
		{"/report/a%0ab", 404},
		{"/", 200},
		{"/report/3f9a1c2e", 200},
		{"/report/a..b", 200},
		{"/report/x.txt?q=a%2fb", 200},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			checkGuarded(t, dashboard.GuardConfig{}, guardCase{method: "GET", target: tt.target, code: tt.code})
		})
	}
}

func TestGuardBody(t *testing.T) {
	rec := checkGuarded(t, dashboard.GuardConfig{}, guardCase{method: "GET", target: "/", body: "x=1", code: 413})
	if rec.Header().Get("Connection") != "close" {
		t.Error("a request with a body does not close its connection")
	}
}

func TestGuardToken(t *testing.T) {
	c := dashboard.GuardConfig{Token: []byte(testToken)}
	basic := func(user, pass string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	}
	tests := []struct {
		name   string
		header map[string]string
		code   int
	}{
		{"none", nil, 401},
		{"wrong bearer", map[string]string{"Authorization": "Bearer not-the-token-at-all"}, 401},
		{"prefix of the token", map[string]string{"Authorization": "Bearer " + testToken[:len(testToken)-1]}, 401},
		{"token and more", map[string]string{"Authorization": "Bearer " + testToken + "x"}, 401},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, 401},
		{"right bearer", map[string]string{"Authorization": "Bearer " + testToken}, 200},
		{"right bearer, scheme in lower case", map[string]string{"Authorization": "bearer " + testToken}, 200},
		{"token without scheme", map[string]string{"Authorization": testToken}, 401},
		{"right basic", basic("anyone", testToken), 200},
		{"right basic, no user", basic("", testToken), 200},
		{"wrong basic", basic("anyone", "wrong"), 401},
		{"token as the user name", basic(testToken, ""), 401},
		{"malformed basic", map[string]string{"Authorization": "Basic !!!"}, 401},
		{"token in another header", map[string]string{"X-Token": testToken}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := checkGuarded(t, c, guardCase{method: "GET", target: "/", header: tt.header, code: tt.code})
			wa := rec.Header().Get("WWW-Authenticate")
			if tt.code == 401 && wa != `Basic realm="sre-agent"` {
				t.Errorf("WWW-Authenticate %q", wa)
			}
			if tt.code == 200 && wa != "" {
				t.Errorf("WWW-Authenticate %q on a 200", wa)
			}
		})
	}
	// Without a token configured, none is asked for.
	checkGuarded(t, dashboard.GuardConfig{}, guardCase{method: "GET", target: "/", code: 200})
	// The method and Host are checked before the token: a rebinding page
	// gets no login prompt.
	checkGuarded(t, c, guardCase{method: "POST", target: "/", code: 405})
	checkGuarded(t, c, guardCase{method: "GET", target: "/", host: "evil.example", code: 403})
	// No path is probed without the token.
	checkGuarded(t, c, guardCase{method: "GET", target: "/report/%2e%2e/x", code: 401})
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		want    string // the token, or "" when refused
		wantErr string // in the error
	}{
		{"private", write("ok", testToken+"\n", 0o600), testToken, ""},
		{"owner read only", write("ro", testToken, 0o400), testToken, ""},
		{"CRLF and blanks", write("crlf", "  "+testToken+" \r\nsecond line\n", 0o600), testToken, ""},
		{"readable by others", write("others", testToken+"\n", 0o644), "", "permissions 0644 are too open"},
		{"readable by group", write("group", testToken+"\n", 0o640), "", "permissions 0640 are too open"},
		{"writable by others", write("ww", testToken+"\n", 0o602), "", "too open"},
		{"empty", write("empty", "", 0o600), "", "no token on its first line"},
		{"blank first line", write("blank", "\n"+testToken+"\n", 0o600), "", "no token on its first line"},
		{"short", write("short", "secret\n", 0o600), "", "the token is 6 bytes, want at least 16"},
		{"missing", filepath.Join(dir, "nope"), "", "no such file"},
		{"directory", dir, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := dashboard.ReadTokenFile(tt.path)
			if tt.want != "" {
				if err != nil || string(tok) != tt.want {
					t.Fatalf("got %q, %v; want %q", tok, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want an error", tok)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to say %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
		})
	}
}
