package sampler

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// Meminfo is the part of /proc/meminfo a sample uses, in bytes.
type Meminfo struct {
	Total, Available, SwapTotal, SwapFree uint64
	HasAvailable                          bool
}

// parseMeminfo picks MemTotal, MemAvailable, SwapTotal and SwapFree.
func parseMeminfo(b []byte) (Meminfo, error) {
	var m Meminfo
	found := 0
	for len(b) > 0 && found < 4 {
		var line []byte
		line, b = cutLine(b)
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(k) {
		case "MemTotal":
			dst = &m.Total
		case "MemAvailable":
			dst, m.HasAvailable = &m.Available, true
		case "SwapTotal":
			dst = &m.SwapTotal
		case "SwapFree":
			dst = &m.SwapFree
		default:
			continue
		}
		v = bytes.TrimSpace(v)
		v = bytes.TrimSuffix(v, []byte(" kB"))
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return m, fmt.Errorf("%w: meminfo: %s %q", ErrParse, k, v)
		}
		*dst = n * 1024
		found++
	}
	if m.Total == 0 {
		return m, fmt.Errorf("%w: meminfo: no MemTotal", ErrParse)
	}
	return m, nil
}

// parseLoadavg parses the three averages of /proc/loadavg.
func parseLoadavg(b []byte) (l1, l5, l15 float64, err error) {
	var v [3]float64
	rest := b
	for i := range v {
		var f []byte
		if f, rest = nextField(rest); f == nil {
			return 0, 0, 0, fmt.Errorf("%w: loadavg: %q", ErrParse, b)
		}
		v[i], err = strconv.ParseFloat(string(f), 64)
		// NaN or Inf would make the whole sample unencodable.
		if err != nil || v[i] < 0 || math.IsNaN(v[i]) || math.IsInf(v[i], 0) {
			return 0, 0, 0, fmt.Errorf("%w: loadavg: %q", ErrParse, f)
		}
	}
	return v[0], v[1], v[2], nil
}
