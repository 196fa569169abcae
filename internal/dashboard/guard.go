package dashboard

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"github.com/localsre/sre-agent/internal/cli"
)

// ContentSecurityPolicy is the policy of every answer: scripts, styles,
// images and connections (the live stream) from the dashboard itself
// only, images also as data: URLs, nothing inline (no <script> or <style>
// element, no style or on* attribute, no javascript: URL, not even in an
// inline SVG), no plugin, no frame, no form sent anywhere else, and no
// page may frame the dashboard.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders are set on every answer, an error's too.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", ContentSecurityPolicy},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Cache-Control", "no-store"},
}

// Realm is the realm of the login prompt a browser shows when a token is
// asked for.
const Realm = "sre-agent"

// GuardConfig says whom Guard lets through.
type GuardConfig struct {
	// Hosts are the Host header names answered besides localhost and the
	// loopback addresses: the address the listener was given, and names
	// the user trusts (an SSH tunnel's or a reverse proxy's).
	Hosts []string
	// Token, when not empty, is the secret every request must carry: as
	// "Authorization: Bearer TOKEN", or as the password of HTTP basic
	// authentication with any user name.
	Token []byte
}

// Guard serves next read-only, to the hosts c names: only GET and HEAD
// (405 otherwise), only with a Host header c allows (403 otherwise: DNS
// rebinding), only with c.Token when one is set (401 with a Basic
// challenge otherwise), never a path with a ".." segment, an encoded
// slash or backslash, or a control character (404, before next sees it),
// and never with a request body (413). Every answer carries
// ContentSecurityPolicy and the other security headers. It does not wrap
// the ResponseWriter, so next may flush and set deadlines through
// http.ResponseController.
func Guard(c GuardConfig, next http.Handler) http.Handler {
	hostOK := cli.HostAllowed(c.Hosts...)
	var want [sha256.Size]byte
	needToken := len(c.Token) > 0
	if needToken {
		want = sha256.Sum256(c.Token)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, kv := range securityHeaders {
			h.Set(kv[0], kv[1])
		}
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the dashboard is read-only", http.StatusMethodNotAllowed)
		case !hostOK(r.Host):
			http.Error(w, "forbidden: unknown Host (start sre-report serve with --allow-host NAME to answer it)", http.StatusForbidden)
		case needToken && !tokenOK(r, want):
			h.Set("WWW-Authenticate", `Basic realm="`+Realm+`"`)
			http.Error(w, "unauthorized: a token is needed", http.StatusUnauthorized)
		case badPath(r):
			http.NotFound(w, r)
		case r.ContentLength != 0 || len(r.TransferEncoding) > 0:
			// Not read: the connection is closed after the answer instead.
			h.Set("Connection", "close")
			http.Error(w, "a GET or HEAD takes no request body", http.StatusRequestEntityTooLarge)
		default:
			r.Body = http.NoBody
			next.ServeHTTP(w, r)
		}
	})
}

// tokenOK reports whether r carries the token whose SHA-256 is want,
// comparing digests so that neither the token's bytes nor its length show
// in the time taken.
func tokenOK(r *http.Request, want [sha256.Size]byte) bool {
	var got string
	if _, pass, ok := r.BasicAuth(); ok {
		got = pass
	} else if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		got = strings.TrimSpace(tok)
	} else {
		return false
	}
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

// badPath reports whether r's path could reach outside what it names: a
// ".." segment once unescaped, a slash or backslash that was encoded (the
// router would take it for a name's character, a file system for a
// separator), a backslash, a control character, or an escape that
// survives unescaping (%252e: escaped twice).
func badPath(r *http.Request) bool {
	esc := strings.ToLower(r.URL.EscapedPath())
	if strings.Contains(esc, "%2f") || strings.Contains(esc, "%5c") {
		return true
	}
	p := r.URL.Path
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return true
		}
	}
	lower := strings.ToLower(p)
	for _, e := range []string{"%2e", "%2f", "%5c", "%00"} {
		if strings.Contains(lower, e) {
			return true
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

// MinTokenLen is the shortest token ReadTokenFile accepts: the prompt
// can be asked again and again, so a short one could be guessed.
const MinTokenLen = 16

// ReadTokenFile returns the token on path's first line (without its line
// end and surrounding blanks). Like ssh with a private key, it refuses a
// file that group or others may read or write, and it refuses a file with
// no token or a token shorter than MinTokenLen. Its errors do not repeat
// path: the caller names it (and the flag that gave it).
func ReadTokenFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, bare(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, bare(err)
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("permissions %04o are too open; group and others must have none (chmod 600 %s)", perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, bare(err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	tok := bytes.TrimSpace(line)
	switch {
	case len(tok) == 0:
		return nil, errors.New("no token on its first line")
	case len(tok) < MinTokenLen:
		return nil, fmt.Errorf("the token is %d bytes, want at least %d (head -c 32 /dev/urandom | base64 > %s)",
			len(tok), MinTokenLen, path)
	}
	return tok, nil
}

// bare is err without the operation and path a *fs.PathError adds.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
