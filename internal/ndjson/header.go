package ndjson

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// readHeader returns a line's "v" and "kind" exactly as json.Unmarshal into
// header would, error included. json.Unmarshal costs about 17 µs on a 1 KiB
// sample line on the reference machine, which alone would keep every stage
// below the throughput bar (DESIGN §7); fastHeader validates the line and
// picks the two fields in one pass, and hands every line it is not sure of
// (invalid, odd keys, odd values) to json.Unmarshal, so the result and the
// error text are those of encoding/json.
func readHeader(line []byte) (header, error) {
	if h, ok := fastHeader(line); ok {
		return h, nil
	}
	var h header
	err := json.Unmarshal(line, &h)
	return h, err
}

// prefixHeader reads "v" and "kind" from the first bytes of a line written
// as the sre tools write every record: {"v":N,"kind":"KIND", followed by ,
// or }, N a plain integer, KIND plain ASCII. It says nothing of the rest of
// the line, which may yet be invalid or hold another "v" or "kind".
func prefixHeader(b []byte) (v int, kind []byte, ok bool) {
	const open, mid = `{"v":`, `,"kind":"`
	if len(b) < len(open) || string(b[:len(open)]) != open {
		return 0, nil, false
	}
	i := len(open)
	start := i
	for i < len(b) && b[i]-'0' <= 9 {
		v = v*10 + int(b[i]-'0')
		i++
	}
	if n := i - start; n == 0 || n > 18 || n > 1 && b[start] == '0' {
		return 0, nil, false
	}
	if len(b)-i < len(mid) || string(b[i:i+len(mid)]) != mid {
		return 0, nil, false
	}
	i += len(mid)
	start = i
	for ; i < len(b) && b[i] != '"'; i++ {
		if c := b[i]; c < 0x20 || c >= 0x80 || c == '\\' {
			return 0, nil, false
		}
	}
	if i+1 >= len(b) || b[i+1] != ',' && b[i+1] != '}' {
		return 0, nil, false
	}
	return v, b[start:i], true
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// fastHeader reports ok only for a valid JSON object whose "v" (if any) is a
// plain integer and whose "kind" (if any) is a plain ASCII string without
// escapes, each at most once, and with no other top-level key that
// encoding/json could match to them case-insensitively.
func fastHeader(b []byte) (h header, ok bool) {
	v := validator{b: b}
	v.ws()
	if !v.at('{') {
		return h, false
	}
	v.i++
	v.ws()
	if v.at('}') {
		v.i++
		return h, v.end()
	}
	for {
		v.ws()
		ks, ke, kesc := v.str()
		if ks < 0 {
			return h, false
		}
		key := b[ks:ke]
		v.ws()
		if !v.at(':') {
			return h, false
		}
		v.i++
		v.ws()
		switch {
		case string(key) == "v" && !kesc:
			if h.V != nil {
				return h, false
			}
			n, good := v.smallInt()
			if !good {
				return h, false
			}
			h.V = version(n)
		case string(key) == "kind" && !kesc:
			if h.Kind != nil {
				return h, false
			}
			s, e, esc := v.str()
			if s < 0 || esc || !ascii(b[s:e]) {
				return h, false
			}
			h.Kind = kind(b[s:e])
		default:
			if kesc || mayFold(key) {
				return h, false
			}
			if !v.value(1) {
				return h, false
			}
		}
		v.ws()
		if v.at(',') {
			v.i++
			continue
		}
		if v.at('}') {
			v.i++
			return h, v.end()
		}
		return h, false
	}
}

// mayFold reports whether encoding/json might match key to "v" or "kind"
// without it being exactly that: another case, or non-ASCII (the Kelvin
// sign folds to k).
func mayFold(key []byte) bool {
	if !ascii(key) {
		return true
	}
	switch len(key) {
	case 1:
		return key[0] == 'V'
	case 4:
		return (key[0]|0x20) == 'k' && (key[1]|0x20) == 'i' && (key[2]|0x20) == 'n' && (key[3]|0x20) == 'd'
	}
	return false
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

type validator struct {
	b []byte
	i int
}

func (v *validator) at(c byte) bool { return v.i < len(v.b) && v.b[v.i] == c }

func (v *validator) ws() {
	if v.i < len(v.b) && v.b[v.i] > ' ' {
		return // compact JSON: the usual case
	}
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

// end reports whether only whitespace follows.
func (v *validator) end() bool {
	v.ws()
	return v.i == len(v.b)
}

// smallInt reads an integer of at most 18 digits (it fits an int).
func (v *validator) smallInt() (int, bool) {
	neg := v.at('-')
	if neg {
		v.i++
	}
	start, n := v.i, 0
	for v.i < len(v.b) && v.b[v.i] >= '0' && v.b[v.i] <= '9' {
		n = n*10 + int(v.b[v.i]-'0')
		v.i++
	}
	digits := v.i - start
	if digits == 0 || digits > 18 || digits > 1 && v.b[start] == '0' {
		return 0, false
	}
	if v.i < len(v.b) {
		switch v.b[v.i] {
		case '.', 'e', 'E':
			return 0, false // encoding/json refuses these for an int: let it say so
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special has a high bit set in each byte of w that is a quote, a
// backslash or a control character: the bytes a string scan stops at.
func special(w uint64) uint64 {
	q := w ^ (lsb * '"')
	bs := w ^ (lsb * '\\')
	return ((q-lsb)&^q | (bs-lsb)&^bs | (w - lsb*0x20)) &^ w & msb
}

// str reads a string starting at the quote; it returns the bounds of its
// contents (start -1 when invalid) and whether it has escapes.
func (v *validator) str() (start, end int, esc bool) {
	if !v.at('"') {
		return -1, 0, false
	}
	v.i++
	start = v.i
	b := v.b
	for {
		for v.i+8 <= len(b) {
			if m := special(binary.LittleEndian.Uint64(b[v.i:])); m != 0 {
				v.i += bits.TrailingZeros64(m) / 8
				break
			}
			v.i += 8
		}
		if v.i >= len(b) {
			return -1, 0, false
		}
		switch c := b[v.i]; {
		case c == '"':
			v.i++
			return start, v.i - 1, esc
		case c == '\\':
			esc = true
			if !v.escape() {
				return -1, 0, false
			}
		case c < 0x20:
			return -1, 0, false
		default:
			v.i++ // a byte the word scan could not rule out near the end
		}
	}
}

func (v *validator) escape() bool {
	v.i++ // the backslash
	if v.i >= len(v.b) {
		return false
	}
	switch v.b[v.i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		v.i++
		return true
	case 'u':
		if v.i+5 > len(v.b) {
			return false
		}
		for _, c := range v.b[v.i+1 : v.i+5] {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		v.i += 5
		return true
	}
	return false
}

// value validates any JSON value at depth.
func (v *validator) value(depth int) bool {
	if v.i >= len(v.b) {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '"':
		s, _, _ := v.str()
		return s >= 0
	case c == '{':
		if depth >= maxDepth {
			return false
		}
		v.i++
		v.ws()
		if v.at('}') {
			v.i++
			return true
		}
		for {
			v.ws()
			if s, _, _ := v.str(); s < 0 {
				return false
			}
			v.ws()
			if !v.at(':') {
				return false
			}
			v.i++
			v.ws()
			if !v.value(depth + 1) {
				return false
			}
			v.ws()
			if v.at(',') {
				v.i++
				continue
			}
			if v.at('}') {
				v.i++
				return true
			}
			return false
		}
	case c == '[':
		if depth >= maxDepth {
			return false
		}
		v.i++
		v.ws()
		if v.at(']') {
			v.i++
			return true
		}
		for {
			v.ws()
			if !v.value(depth + 1) {
				return false
			}
			v.ws()
			if v.at(',') {
				v.i++
				continue
			}
			if v.at(']') {
				v.i++
				return true
			}
			return false
		}
	case c == 't':
		return v.lit("true")
	case c == 'f':
		return v.lit("false")
	case c == 'n':
		return v.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return v.number()
	}
	return false
}

func (v *validator) lit(w string) bool {
	if len(v.b)-v.i < len(w) || string(v.b[v.i:v.i+len(w)]) != w {
		return false
	}
	v.i += len(w)
	return true
}

// number validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *validator) number() bool {
	if v.at('-') {
		v.i++
	}
	digits := func() int {
		s := v.i
		for v.i < len(v.b) && v.b[v.i] >= '0' && v.b[v.i] <= '9' {
			v.i++
		}
		return v.i - s
	}
	if v.at('0') {
		v.i++
	} else if digits() == 0 {
		return false
	}
	if v.at('.') {
		v.i++
		if digits() == 0 {
			return false
		}
	}
	if v.at('e') || v.at('E') {
		v.i++
		if v.at('+') || v.at('-') {
			v.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

var versions = [...]int{0, 1, 2, 3}

// version returns a pointer to n without allocating for the usual values.
func version(n int) *int {
	if n >= 0 && n < len(versions) {
		return &versions[n]
	}
	v := new(int)
	*v = n
	return v
}

var kinds = [...]string{"sample", "event", "action", "score", "summary", "notice"}

// kind returns a pointer to the kind without allocating for known kinds.
func kind(b []byte) *string {
	for i := range kinds {
		if string(b) == kinds[i] {
			return &kinds[i]
		}
	}
	s := string(b)
	return &s
}
