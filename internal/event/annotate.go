package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotObject means a line given to Annotate is not one JSON object.
var ErrNotObject = errors.New("not a JSON object")

// Annotate appends to dst the record line (one JSON object, as it came in)
// with the member "key": value added before its closing brace. Every other
// byte stays as it was: fields the stage does not know — added upstream by
// jq, or by a newer version, at the top level or inside a known object —
// reach the next stage and the archive untouched, and annotating costs a
// copy of the line, not a decode and an encode. value is escaped as
// AppendJSON escapes strings.
//
// The result never holds key twice: a top-level member that encoding/json
// would read as key (in any letter case, or spelled with \u escapes) is
// taken out first, with the separator before it. Only a line that might
// hold one — it contains key in some letter case, a \u escape, or, for a
// key with a k or an s, a non-ASCII byte — is walked to find it, with
// encoding/json's tokenizer.
//
// key is a plain ASCII name. line must be valid JSON, as a stage's reader
// has already found it; Annotate itself checks only that it is braced
// (and, when it walks it, that it is one object). A line that is not is an
// error wrapping ErrNotObject, and dst is returned as it was.
func Annotate(dst, line []byte, key, value string) ([]byte, error) {
	if mayHold(line, key) {
		trimmed, err := without(line, key)
		if err != nil {
			return dst, err
		}
		line = trimmed
	}
	end := len(line) - 1
	for end >= 0 && isSpace(line[end]) {
		end--
	}
	start := 0
	for start < len(line) && isSpace(line[start]) {
		start++
	}
	if end <= start || line[start] != '{' || line[end] != '}' {
		return dst, fmt.Errorf("annotate: %w", ErrNotObject)
	}
	empty := true
	for i := start + 1; i < end; i++ {
		if !isSpace(line[i]) {
			empty = false
			break
		}
	}
	b := append(dst, line[:end]...)
	if !empty {
		b = append(b, ',')
	}
	b = appendString(b, key)
	b = append(b, ':')
	b = appendString(b, value)
	return append(b, line[end:]...), nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// mayHold reports whether line could have a member that encoding/json
// matches to key: key in some ASCII letter case, a \u escape, or, for a key
// with a k or an s, a non-ASCII byte (encoding/json folds the Kelvin sign to
// k and the long s to s). It is false for nearly every line, which then is
// not walked.
func mayHold(line []byte, key string) bool {
	if key == "" || bytes.Contains(line, []byte(`\u`)) {
		return true
	}
	folds := strings.ContainsAny(key, "ksKS")
	for i, c := range line {
		if c >= 0x80 && folds {
			return true
		}
		if c|0x20 == key[0]|0x20 && i+len(key) <= len(line) && asciiFold(line[i:], key) {
			return true
		}
	}
	return false
}

func asciiFold(b []byte, s string) bool {
	for i := range len(s) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// member is the span of one top-level member, its key's opening quote to
// its value's last byte.
type member struct {
	start, end int
	drop       bool
}

// without returns line with every top-level member named key (as
// encoding/json matches names: case-insensitively, escapes decoded) taken
// out. Kept members keep their bytes and the separators before them; line
// itself is returned when there is none to take out.
func without(line []byte, key string) ([]byte, error) {
	r := bytes.NewReader(line)
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("annotate: %w", ErrNotObject)
	}
	var members []member
	dropped := false
	for dec.More() {
		at := int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("annotate: %w: %v", ErrNotObject, err)
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("annotate: %w: %v", ErrNotObject, err)
		}
		for at < len(line) && (isSpace(line[at]) || line[at] == ',') {
			at++
		}
		m := member{start: at, end: int(dec.InputOffset()), drop: strings.EqualFold(name, key)}
		dropped = dropped || m.drop
		members = append(members, m)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("annotate: %w", ErrNotObject)
	}
	if rest, err := io.ReadAll(io.MultiReader(dec.Buffered(), r)); err != nil || len(bytes.Trim(rest, " \t\r\n")) > 0 {
		return nil, fmt.Errorf("annotate: %w: data after the object", ErrNotObject)
	}
	if !dropped {
		return line, nil
	}
	out := make([]byte, 0, len(line))
	out = append(out, line[:members[0].start]...)
	first := true
	for i, m := range members {
		if m.drop {
			continue
		}
		if !first {
			out = append(out, line[members[i-1].end:m.start]...)
		}
		out = append(out, line[m.start:m.end]...)
		first = false
	}
	return append(out, line[members[len(members)-1].end:]...), nil
}
