package score

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is one rolling window ending at the scoring time: [at−Dur, at].
type Window struct {
	Label string // as the user wrote it: 1h, 24h, 7d
	Dur   time.Duration
}

// ErrWindow is wrapped by every window parse failure.
var ErrWindow = errors.New("bad window")

// ParseWindows parses a comma-separated list such as "1h,24h,7d". Units are
// Go's (s, m, h) plus d (24h) and w (7d).
func ParseWindows(s string) ([]Window, error) {
	var out []Window
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := parseDur(f)
		if err != nil {
			return nil, err
		}
		if seen[f] {
			continue
		}
		seen[f] = true
		out = append(out, Window{Label: f, Dur: d})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %q: no window", ErrWindow, s)
	}
	return out, nil
}

func parseDur(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	switch {
	case strings.HasSuffix(s, "d") || strings.HasSuffix(s, "w"):
		unit := 24 * time.Hour
		if strings.HasSuffix(s, "w") {
			unit *= 7
		}
		n, perr := strconv.ParseFloat(s[:len(s)-1], 64)
		if perr != nil {
			err = perr
		}
		d = time.Duration(n * float64(unit))
	default:
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%w %q: want a positive duration such as 1h, 24h, 7d", ErrWindow, s)
	}
	return d, nil
}
