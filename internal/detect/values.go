package detect

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Limit is a threshold given either as an absolute amount or as a
// percentage of something the sample knows (host memory, a baseline).
type Limit struct {
	Abs float64 // used when Pct is false
	Pct bool
	Of  float64 // the percentage, 0–100 (or more for deltas)
}

// IsZero reports whether the limit is unset (the detector is off).
func (l Limit) IsZero() bool { return l.Abs == 0 && l.Of == 0 }

// Resolve returns the limit as an amount, given what a percentage refers to;
// ok is false when it is a percentage and base is unknown.
func (l Limit) Resolve(base float64, known bool) (float64, bool) {
	if !l.Pct {
		return l.Abs, true
	}
	if !known {
		return 0, false
	}
	return base * l.Of / 100, true
}

func (l Limit) String() string {
	if l.Pct {
		return strconv.FormatFloat(l.Of, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(l.Abs, 'f', -1, 64)
}

var errEmpty = errors.New("empty")

var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	// Longest first so "KiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// ParseSize reads a byte count: 1048576, 512MB, 1.5GiB, 64k. KiB/Ki/K are
// powers of 1024, KB powers of 1000; units are case-insensitive.
func ParseSize(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errEmpty
	}
	mult := 1.0
	for _, u := range sizeUnits {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := parseNumber(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (like 512MiB, 1.5GB or 1048576): %w", s, err)
	}
	v *= mult
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return math.Round(v), nil
}

// parseNumber reads a finite, non-negative decimal number.
func parseNumber(t string) (float64, error) {
	if t == "" {
		return 0, errors.New("no number")
	}
	for _, c := range t {
		if (c < '0' || c > '9') && c != '.' {
			return 0, errors.New("not a plain non-negative number")
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, errors.New("not a number")
	}
	return v, nil
}

// ParsePct reads a percentage: 80%, 80 or 12.5%.
func ParsePct(s string) (float64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "%")
	v, err := parseNumber(strings.TrimSpace(t))
	if err != nil {
		return 0, fmt.Errorf("%q is not a percentage (like 80%%): %w", s, err)
	}
	return v, nil
}

// ParseSizeOrPct reads a size or a percentage (ending in %).
func ParseSizeOrPct(s string) (Limit, error) {
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, "%") {
		v, err := ParsePct(t)
		if err != nil {
			return Limit{}, err
		}
		if v > 100 {
			return Limit{}, fmt.Errorf("%q: a percentage of memory is at most 100%%", s)
		}
		return Limit{Pct: true, Of: v}, nil
	}
	v, err := ParseSize(t)
	if err != nil {
		return Limit{}, err
	}
	return Limit{Abs: v}, nil
}

// ParseDelta reads a change: an absolute count (10) or a percentage (50%).
func ParseDelta(s string) (Limit, error) {
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, "%") {
		v, err := ParsePct(t)
		if err != nil {
			return Limit{}, err
		}
		return Limit{Pct: true, Of: v}, nil
	}
	v, err := parseNumber(t)
	if err != nil || v != math.Trunc(v) {
		return Limit{}, fmt.Errorf("%q is not a count (like 10) or a percentage (like 50%%)", s)
	}
	return Limit{Abs: v}, nil
}

// ParseRate reads a growth rate in bytes per second: 1MiB/m, 100KiB/s,
// 2GB/h, or a size alone (per second).
func ParseRate(s string) (float64, error) {
	t := strings.TrimSpace(s)
	per := 1.0
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		unit := strings.TrimSpace(t[i+1:])
		switch unit {
		case "s", "sec":
			per = 1
		case "m", "min":
			per = 60
		case "h", "hour":
			per = 3600
		case "d", "day":
			per = 86400
		default:
			d, err := time.ParseDuration(unit)
			if err != nil || d <= 0 {
				return 0, fmt.Errorf("%q: rate unit %q is not s, m, h, d or a duration", s, unit)
			}
			per = d.Seconds()
		}
		t = t[:i]
	}
	v, err := ParseSize(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a rate (like 1MiB/m): %w", s, err)
	}
	return v / per, nil
}

// ParseDuration reads a Go duration (30s, 10m, 1h30m) that is not
// negative; a bare 0 is allowed.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 30s, 10m or 1h)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: must not be negative", s)
	}
	return d, nil
}

// FormatBytes renders n in binary units for messages: 1.5 GiB.
func FormatBytes(n float64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	prec := 2 // three significant digits: 1.05 GiB, 10.5 MiB, 105 KiB
	switch {
	case i == 0 || n >= 100:
		prec = 0
	case n >= 10:
		prec = 1
	}
	s := strconv.FormatFloat(n, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if neg {
		s = "-" + s
	}
	return s + " " + units[i]
}

// FormatDuration renders seconds for messages: 42s, 3m20s, 5h12m, 3d4h.
func FormatDuration(sec float64) string {
	if sec < 0 || math.IsNaN(sec) {
		return "0s"
	}
	if math.IsInf(sec, 1) || sec > 100*365*86400 {
		return "more than 100 years"
	}
	switch d := time.Duration(sec * float64(time.Second)); {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return strings.TrimSuffix(d.String(), "0s")
	default:
		days := int(d / (24 * time.Hour))
		h := int((d % (24 * time.Hour)).Round(time.Hour) / time.Hour)
		return fmt.Sprintf("%dd%dh", days, h)
	}
}
