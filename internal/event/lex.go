package event

import (
	"encoding/json"
	"strconv"
)

// lex walks one JSON object and hands out only the fields a view needs,
// skipping everything else without building it. Decoding a whole sample with
// encoding/json costs more than the detectors themselves; a sample is read
// here with no allocation. Any surprise sets bad and stops: the caller skips
// the line, it never panics.
//
// Everything lex passes over, skipped values included, is checked by the
// scans of scan.go, as encoding/json would check it, so a line it reads to
// the end without setting bad is valid JSON: a reader need not scan a sample
// line a second time to know that (see ReadSample).
//
// A value nested deeper than fastDepth is walked by encoding/json from its
// own start, which does not count the levels above it: deep says so, and
// the line's validity is then for ReadHead to tell.
type lex struct {
	b    []byte
	i    int
	bad  bool
	deep bool
}

// peek returns the next non-space byte, or 0 at the end.
func (l *lex) peek() byte {
	if l.i < len(l.b) && l.b[l.i] > ' ' {
		return l.b[l.i] // compact JSON: the usual case
	}
	l.i = skipWS(l.b, l.i)
	if l.i >= len(l.b) {
		return 0
	}
	return l.b[l.i]
}

func (l *lex) fail() { l.bad, l.i = true, len(l.b) }

func (l *lex) expect(c byte) bool {
	if l.peek() != c {
		l.fail()
		return false
	}
	l.i++
	return true
}

// open starts an object ({) and reports whether it is one.
func (l *lex) open() bool { return l.expect('{') }

// null reads a null if one is next, and reports whether it did.
func (l *lex) null() bool {
	if l.peek() != 'n' {
		return false
	}
	l.lit("null")
	return true
}

// more reports whether the object has another member, consuming the comma
// (first is true before the first member).
func (l *lex) more(first bool) bool {
	c := l.peek()
	if c == '}' {
		l.i++
		return false
	}
	if !first {
		if c != ',' {
			l.fail()
			return false
		}
		l.i++
	}
	return !l.bad
}

// end reports whether only whitespace is left.
func (l *lex) end() bool {
	l.i = skipWS(l.b, l.i)
	return !l.bad && l.i == len(l.b)
}

// key reads a member name and its colon. Names with escapes come back
// unescaped (rare: none of ours need one); esc says so.
func (l *lex) key() (k []byte, esc bool) {
	// Keys are plain and followed at once by the colon: one scan, no peek.
	if i, b := l.i, l.b; i < len(b) && b[i] == '"' {
		end := 0
		if stop, quote := quickString(b, i+1); quote {
			end = stop + 1
		} else {
			end, esc = scanString(b, stop)
		}
		if end > 0 && !esc && end < len(b) && b[end] == ':' {
			l.i = end + 1
			return b[i+1 : end-1], false
		}
	}
	k, esc = l.str()
	if esc {
		k = unescape(k)
	}
	if !l.expect(':') {
		return nil, esc
	}
	return k, esc
}

// str reads a string and returns its raw contents (between the quotes) and
// whether it holds escapes. The scan is the line check's own, so a string
// read here is valid exactly when encoding/json would take it.
func (l *lex) str() ([]byte, bool) {
	if l.peek() != '"' {
		l.fail()
		return nil, false
	}
	start := l.i + 1
	end, esc := scanString(l.b, start)
	if end < 0 {
		l.fail()
		return nil, false
	}
	l.i = end
	return l.b[start : end-1], esc
}

func unescape(raw []byte) []byte {
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var s string
	if json.Unmarshal(q, &s) != nil {
		return nil
	}
	return []byte(s)
}

// text reads a string value (unescaped), or null as "".
func (l *lex) text() []byte {
	if l.null() {
		return nil
	}
	s, esc := l.str()
	if esc {
		s = unescape(s)
	}
	return s
}

func (l *lex) lit(word string) {
	if len(l.b)-l.i < len(word) || string(l.b[l.i:l.i+len(word)]) != word {
		l.fail()
		return
	}
	l.i += len(word)
}

// boolean reads true or false.
func (l *lex) boolean() bool {
	switch l.peek() {
	case 't':
		l.lit("true")
		return true
	case 'f':
		l.lit("false")
	default:
		l.fail()
	}
	return false
}

// numRaw returns the bytes of a number.
func (l *lex) numRaw() []byte {
	l.peek()
	start := l.i
	end := numEnd(l.b, start)
	if end < 0 {
		l.fail()
		return nil
	}
	l.i = end
	return l.b[start:end]
}

// uint reads a non-negative integer; ok is false for null. Anything else
// (negative, fraction, overflow) marks the line bad, as a schema check
// would.
func (l *lex) uint() (v uint64, ok bool) {
	// The usual case: up to 19 digits (no overflow), no leading zero, and
	// no fraction or exponent after them.
	if i, b := l.i, l.b; i < len(b) && b[i]-'1' <= 8 {
		j := i
		for j < len(b) && j-i < 19 && b[j]-'0' <= 9 {
			v = v*10 + uint64(b[j]-'0')
			j++
		}
		if j == len(b) || b[j]-'0' > 9 && b[j] != '.' && b[j]|0x20 != 'e' {
			l.i = j
			return v, true
		}
		v = 0
	}
	if l.null() {
		return 0, false
	}
	raw := l.numRaw()
	if len(raw) == 0 || len(raw) > 20 {
		l.fail()
		return 0, false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			l.fail()
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			l.fail()
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// int reads an integer that fits an int (pids, counts).
func (l *lex) int() (int, bool) {
	v, ok := l.uint()
	if v > 1<<31 {
		l.fail()
		return 0, false
	}
	return int(v), ok
}

// float reads a number; ok is false for null.
func (l *lex) float() (float64, bool) {
	if l.null() {
		return 0, false
	}
	raw := l.numRaw()
	if l.bad {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		l.fail()
		return 0, false
	}
	return v, true
}

// optUint, optInt and optFloat read a field that may be null (absent).
func (l *lex) optUint() Opt[uint64] {
	v, ok := l.uint()
	return Opt[uint64]{v, ok}
}

func (l *lex) optInt() Opt[int] {
	v, ok := l.int()
	return Opt[int]{v, ok}
}

func (l *lex) optFloat() Opt[float64] {
	v, ok := l.float()
	return Opt[float64]{v, ok}
}

// skip passes over one value of any kind, checking it.
func (l *lex) skip() {
	l.peek()
	end := skipValue(l.b, l.i)
	if end == tooDeep {
		l.deep = true
		end = skipDeep(l.b, l.i)
	}
	if end < 0 {
		l.fail()
		return
	}
	l.i = end
}

// value passes over one value and returns its bytes.
func (l *lex) value() []byte {
	l.peek()
	start := l.i
	l.skip()
	if l.bad {
		return nil
	}
	return l.b[start:l.i]
}
