package forensics

import (
	"regexp"
	"strings"
)

// Mask replaces a secret's value in redacted text.
const Mask = "***"

// Redact returns a copy of a command line with the values of secrets
// masked: --password=X and --password X, token=X, NAME_KEY=X, NAME_SECRET=X,
// NAME_TOKEN=X, Authorization: X, and the password of a URL's user:pass@.
// The flag names stay, so a reader still sees what was passed. It errs on
// the side of masking: a report may be read by anyone on call.
func Redact(args []string) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	maskNext := false
	for i, a := range args {
		if maskNext && a != "" && !strings.HasPrefix(a, "-") {
			out[i] = Mask
			maskNext = false
			continue
		}
		maskNext = false
		if name, ok := flagName(a); ok && !strings.ContainsAny(a, "= \t") && secretKey(name) {
			// --password VALUE: the value is the next argument.
			out[i] = a
			maskNext = true
			continue
		}
		out[i] = RedactLine(a)
	}
	return out
}

// flagName returns the name of a -f or --flag argument without its dashes.
func flagName(a string) (string, bool) {
	n := strings.TrimLeft(a, "-")
	if n == a || n == "" || len(a)-len(n) > 2 {
		return "", false
	}
	return n, true
}

var (
	// scheme://user:password@host — the password part.
	urlCredRe = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):([^/\s@]+)@`)
	// Authorization: Bearer X, and the other headers that carry a credential.
	headerRe = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|set-cookie|cookie|x-api-key|x-auth-token|private-token)(\s*[:=]\s*)((?:basic|bearer|digest|token|negotiate|ntlm)\s+)?("[^"]*"|[^\s"',;]+)`)
	// key=value and key: value (JSON "key": "value" too) where the key may
	// name a secret; secretKey decides. Only candidate keys are matched, so
	// that a harmless pair never swallows a secret one after it.
	kvRe = regexp.MustCompile(`(?i)([a-z0-9_.-]*(?:passw|passphrase|secret|token|key|pass|pwd|auth|cookie|credential|pw)[a-z0-9_.-]*)(["']?\s*(?:=|:\s*)\s*["']?)([^\s"'&,;}]+)`)
	// --flag value inside one string.
	flagSpaceRe = regexp.MustCompile(`(^|\s)(--?[A-Za-z][A-Za-z0-9_.-]*)(\s+)([^\s-][^\s]*)`)
)

// headerKeys are handled by headerRe, which keeps the auth scheme.
var headerKeys = map[string]bool{"authorization": true, "proxy-authorization": true, "cookie": true, "set-cookie": true, "x-api-key": true, "x-auth-token": true, "private-token": true}

// RedactLine masks the secrets in one line of text, such as a command line
// joined with spaces or a log line; see Redact.
func RedactLine(s string) string {
	if s == "" {
		return s
	}
	s = urlCredRe.ReplaceAllString(s, "${1}:"+Mask+"@")
	s = headerRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := headerRe.FindStringSubmatch(m)
		return sub[1] + sub[2] + sub[3] + Mask
	})
	s = redactPairs(s)
	s = flagSpaceRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := flagSpaceRe.FindStringSubmatch(m)
		name, _ := flagName(sub[2])
		if sub[4] == Mask || !secretKey(name) {
			return m
		}
		return sub[1] + sub[2] + sub[3] + Mask
	})
	return s
}

func redactPairs(s string) string {
	return kvRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := kvRe.FindStringSubmatch(m)
		key, sep, val := sub[1], sub[2], sub[3]
		k := strings.TrimLeft(key, "-")
		switch {
		case val == Mask || headerKeys[strings.ToLower(k)]:
			return m
		case !secretKey(k):
			// A harmless key: the value may still hold a pair (a=b=token=x).
			return key + sep + redactPairs(val)
		case strings.Contains(sep, ":") && strings.HasPrefix(val, "//"):
			return m // key: scheme://… is a URL, handled above
		}
		return key + sep + Mask
	})
}

// secretWords mark a key as a secret wherever they appear in it
// (dbpassword, GITHUB_TOKEN, client-secret).
var secretWords = []string{"password", "passwd", "passphrase", "secret", "token", "apikey", "api_key", "api-key", "credential", "private_key", "private-key", "access_key", "access-key"}

// secretLast mark a key as a secret when they are its last word
// (AWS_ACCESS_KEY, --key, --db-pass, --auth).
var secretLast = map[string]bool{"key": true, "pass": true, "pwd": true, "auth": true, "authorization": true, "cookie": true, "pw": true}

// notSecretLast name keys whose value only points at a secret (a file, a
// path) or is about one without holding it.
var notSecretLast = map[string]bool{"file": true, "path": true, "dir": true, "url": true, "uri": true, "id": true, "name": true, "type": true, "length": true, "size": true, "prompt": true, "ttl": true, "expiry": true, "count": true}

// secretKey tells whether a flag or variable name holds a secret value.
func secretKey(name string) bool {
	n := strings.ToLower(name)
	if n == "" || strings.HasPrefix(n, "no-") || strings.HasPrefix(n, "no_") {
		return false
	}
	words := strings.FieldsFunc(n, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	if len(words) == 0 {
		return false
	}
	last := words[len(words)-1]
	if notSecretLast[last] {
		return false
	}
	if secretLast[last] {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
