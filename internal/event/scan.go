package event

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// This file is the one JSON scanner of the wire format. Every stage reads
// every line through it: ReadHead checks a whole line as encoding/json would
// and picks its "v" and "kind"; the views (SampleView, RecordView) walk the
// members they need with lex, which is built on the same string, number and
// value scans. Nothing here allocates for a line the tools wrote.
//
// Why by hand: json.Unmarshal costs about 17 µs on a 1 KiB sample line on
// the reference machine, which alone would keep every stage below the
// throughput bar (DESIGN §7). BenchmarkHeader and BenchmarkParseSample
// measure these against encoding/json; the differential fuzz targets
// (FuzzHeader, FuzzValidate, FuzzLexValid, FuzzParseSample, FuzzRecordView)
// hold them to its answers.

// Head is what every reader needs of a line: its "v" and "kind", each nil
// when the line has none.
type Head struct {
	V    *int    `json:"v"`
	Kind *string `json:"kind"`
}

// ReadHead returns a line's "v" and "kind" exactly as json.Unmarshal into
// Head would, error included (the error says the line is not valid JSON,
// or that "v" or "kind" has the wrong type). fastHeader validates the line
// and picks the two fields in one pass, and hands every line it is not sure
// of (invalid, odd keys, odd values) to json.Unmarshal, so the result and
// the error text are those of encoding/json.
func ReadHead(line []byte) (Head, error) {
	if h, ok := fastHeader(line); ok {
		return h, nil
	}
	var h Head
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

// fastDepth is the deepest nesting fastHeader follows below the top-level
// object. Records nest a few levels; a deeper line goes to encoding/json,
// which gives the same answer up to maxDepth and the same error beyond it.
const fastDepth = 64

// fastHeader reports ok only for a valid JSON object whose "v" (if any) is a
// plain integer and whose "kind" (if any) is a plain ASCII string without
// escapes, each at most once, and with no other top-level key that
// encoding/json could match to them case-insensitively.
//
// Every stage checks every line it does not decode itself with this, and
// sre-score spends much of its time here, so it keeps its place in a local
// index, reads strings and digits a word at a time, walks nested values in
// a loop rather than by recursion, and makes no call for a string that
// ends within its first word.
func fastHeader(b []byte) (h Head, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return h, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return h, skipWS(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return h, false
		}
		ks := i + 1
		ke, kesc := 0, false
		if stop, quote := quickString(b, ks); quote {
			ke = stop + 1
		} else {
			ke, kesc = scanString(b, stop)
		}
		if ke < 0 {
			return h, false
		}
		key := b[ks : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return h, false
		}
		i = skipWS(b, i+1)
		switch {
		case string(key) == "v" && !kesc:
			if h.V != nil {
				return h, false
			}
			n, e := smallInt(b, i)
			if e < 0 {
				return h, false
			}
			h.V = version(n)
			i = e
		case string(key) == "kind" && !kesc:
			if h.Kind != nil || i >= len(b) || b[i] != '"' {
				return h, false
			}
			e, esc := scanString(b, i+1)
			if e < 0 || esc || !ascii(b[i+1:e-1]) {
				return h, false
			}
			h.Kind = kind(b[i+1 : e-1])
			i = e
		default:
			if kesc || mayFold(key) {
				return h, false
			}
			if i = skipValue(b, i); i < 0 {
				return h, false // invalid, or deep: encoding/json says which
			}
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return h, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return h, skipWS(b, i+1) == len(b)
		default:
			return h, false
		}
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
		return (key[0]|0x20) == 'k' && (key[1]|0x20) == 'i' && (key[2]|0x20) == 'n' && (key[3]|0x20) == 'd' && string(key) != "kind"
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

// Byte classes, one table lookup each.
const (
	cWS  = 1 << iota // space, tab, newline, carriage return
	cHex             // 0-9, a-f, A-F
	cStr             // may stand in a string as it is: not a quote, backslash or control byte
)

var class = func() (t [256]uint8) {
	for _, c := range " \t\n\r" {
		t[c] |= cWS
	}
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] |= cHex
	}
	for c := 0x20; c < 256; c++ {
		if c != '"' && c != '\\' {
			t[c] |= cStr
		}
	}
	return t
}()

// skipWS returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && class[b[i]]&cWS != 0 {
		i++
	}
	return i
}

// smallInt reads an integer of at most 18 digits (it fits an int) at i and
// returns it with the index after it, or end -1.
func smallInt(b []byte, i int) (n, end int) {
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	for i < len(b) && b[i]-'0' <= 9 {
		n = n*10 + int(b[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || digits > 1 && b[start] == '0' {
		return 0, -1
	}
	if i < len(b) {
		switch b[i] {
		case '.', 'e', 'E':
			return 0, -1 // encoding/json refuses these for an int: let it say so
		}
	}
	if neg {
		n = -n
	}
	return n, i
}

const (
	lsb  = 0x0101010101010101
	msb  = 0x8080808080808080
	low7 = 0x7f7f7f7f7f7f7f7f
)

// special has a high bit set in the bytes of w that are a quote, a
// backslash or a control byte: the bytes a string scan stops at. Only the
// lowest marked byte is sure to be one (a borrow may mark a byte above it),
// and only that one is used. Flipping bit 1 turns a quote into 0x20 and
// leaves control bytes below it, so one test finds both.
func special(w uint64) uint64 {
	qc := w ^ (lsb * 0x02)
	bs := w ^ (lsb * '\\')
	return ((qc-lsb*0x21)&^qc | (bs-lsb)&^bs) & msb
}

// quickString is scanString's first word, small enough to be inlined
// where strings start: most keys and many values end within it. It
// returns the index of the first quote, backslash or control byte in the
// word at i (i+8 if none; i if fewer than 8 bytes are left), and whether
// that byte is the closing quote. Otherwise scanString goes on from there.
func quickString(b []byte, i int) (stop int, quote bool) {
	if len(b)-i < 8 {
		return i, false
	}
	w := binary.LittleEndian.Uint64(b[i:])
	n := bits.TrailingZeros64(special(w)) &^ 7 // 64 when none: w>>64 is 0
	return i + n>>3, byte(w>>n) == '"'
}

// scanString reads the rest of a string whose opening quote is at i-1. It
// returns the index after the closing quote (-1 when the string is
// invalid) and whether the string has escapes. Plain bytes are skipped a
// word at a time, and the byte a word stops at is taken from the word.
func scanString(b []byte, i int) (end int, esc bool) {
	for {
		var c byte
		for {
			if i+8 > len(b) {
				for i < len(b) && class[b[i]]&cStr != 0 {
					i++
				}
				if i >= len(b) {
					return -1, false
				}
				c = b[i]
				break
			}
			w := binary.LittleEndian.Uint64(b[i:])
			if m := special(w); m != 0 {
				n := bits.TrailingZeros64(m) &^ 7
				i += n >> 3
				c = byte(w >> n)
				break
			}
			i += 8
		}
		switch c {
		case '"':
			return i + 1, esc
		case '\\':
			esc = true
			if i+1 >= len(b) {
				return -1, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || class[b[i+2]]&class[b[i+3]]&class[b[i+4]]&class[b[i+5]]&cHex == 0 {
					return -1, false
				}
				i += 6
			default:
				return -1, false
			}
		default: // a control byte
			return -1, false
		}
	}
}

// numEnd returns the index after the number at i, or -1 when there is
// none: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numEnd(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else {
		start := i
		if i = skipDigits(b, i); i == start {
			return -1
		}
	}
	if i < len(b) && b[i] == '.' {
		start := i + 1
		if i = skipDigits(b, start); i == start {
			return -1
		}
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		if i = skipDigits(b, start); i == start {
			return -1
		}
	}
	return i
}

// skipDeep is skipValue for a value nested deeper than fastDepth, which no
// sre tool writes: encoding/json walks it, with its own nesting limit.
func skipDeep(b []byte, i int) int {
	dec := json.NewDecoder(bytes.NewReader(b[i:]))
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return -1
	}
	return i + int(dec.InputOffset())
}

// skipDigits returns the index of the first byte at or after i that is not
// a digit, a word at a time.
func skipDigits(b []byte, i int) int {
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		low := w & low7
		// not a digit: high bit set, below '0' or above '9'
		nd := (w | ^(low + lsb*(0x80-'0')) | (low + lsb*(0x80-'9'-1))) & msb
		if nd != 0 {
			return i + bits.TrailingZeros64(nd)>>3
		}
		i += 8
	}
	for i < len(b) && b[i]-'0' <= 9 {
		i++
	}
	return i
}

// tooDeep is skipValue's answer for a value nested deeper than fastDepth,
// which it does not follow: skipDeep does.
const tooDeep = -2

// skipValue validates the JSON value at i (whitespace before it skipped) and
// returns the index after it, -1 when it is invalid, or tooDeep when it is
// nested deeper than fastDepth. It walks containers with a stack of one bit
// per level (set for an array) instead of recursing.
func skipValue(b []byte, i int) int {
	var arrays uint64
	depth := 0
	key := false // an object member, key first, starts at i
	for {
		if key {
			key = false
			if i >= len(b) || b[i] != '"' {
				return -1
			}
			if stop, quote := quickString(b, i+1); quote {
				i = stop + 1
			} else if i, _ = scanString(b, stop); i < 0 {
				return -1
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return -1
			}
			i = skipWS(b, i+1)
		}
		// A value starts at i.
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; {
		case c == '"':
			if stop, quote := quickString(b, i+1); quote {
				i = stop + 1
			} else if i, _ = scanString(b, stop); i < 0 {
				return -1
			}
		case c == '{' || c == '[':
			j := skipWS(b, i+1)
			if j < len(b) && b[j] == c+2 { // ] is [+2, } is {+2
				i = j + 1
				break // an empty container is a whole value
			}
			if depth == fastDepth {
				return tooDeep
			}
			depth++
			arrays <<= 1
			if c == '[' {
				arrays |= 1
				i = j
				continue // to its first element
			}
			i, key = j, true
			continue // to its first member
		case c == 't':
			if len(b)-i < 4 || string(b[i:i+4]) != "true" {
				return -1
			}
			i += 4
		case c == 'f':
			if len(b)-i < 5 || string(b[i:i+5]) != "false" {
				return -1
			}
			i += 5
		case c == 'n':
			if len(b)-i < 4 || string(b[i:i+4]) != "null" {
				return -1
			}
			i += 4
		case c == '-' || c-'0' <= 9:
			if i = numEnd(b, i); i < 0 {
				return -1
			}
		default:
			return -1
		}
		// A value ended before i: close the containers it ends.
		for {
			if depth == 0 {
				return i
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return -1
			}
			c := b[i]
			if c == ',' {
				i = skipWS(b, i+1)
				key = arrays&1 == 0
				break // to the next element or member
			}
			want := byte('}')
			if arrays&1 != 0 {
				want = ']'
			}
			if c != want {
				return -1
			}
			i++
			depth--
			arrays >>= 1
		}
	}
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
