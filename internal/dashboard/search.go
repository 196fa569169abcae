package dashboard

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
)

// search returns where the events are whose message, target, type or id
// holds q, any case. It reads the archive files through once, in file
// order (not one read per event: 100,000 reads back cost seconds), and
// decodes only the lines whose bytes hold q. The caller holds mu, so the
// files are read up to what the model holds.
func (d *Dashboard) search(q string) (map[loc]bool, error) {
	needle := []byte(strings.ToLower(q))
	// The bytes of a line hold the needle as it is written only when JSON
	// writes it unchanged: plain ASCII, no quote, backslash or control.
	prefilter := true
	for _, c := range needle {
		if c >= 0x80 || c < 0x20 || c == '"' || c == '\\' {
			prefilter = false
		}
	}
	hits := map[loc]bool{}
	var lower []byte
	for idx, f := range d.files {
		err := scanFile(f, func(rec ndjson.Record) {
			if rec.Kind != event.KindEvent {
				return
			}
			if prefilter {
				if lower = appendLower(lower[:0], rec.Raw); !bytes.Contains(lower, needle) {
					return
				}
			}
			var ln evLine
			if json.Unmarshal(rec.Raw, &ln) != nil {
				return
			}
			text := strings.ToLower(clean(ln.Msg) + "\x00" + clean(ln.Target) + "\x00" + clean(ln.Type) + "\x00" + ln.ID)
			if strings.Contains(text, string(needle)) {
				hits[loc{file: uint16(idx), off: rec.Off, n: uint32(len(rec.Raw))}] = true
			}
		})
		if err != nil {
			return hits, err
		}
	}
	return hits, nil
}

// scanFile calls fn for each record of f up to the end the model read.
func scanFile(f *archFile, fn func(ndjson.Record)) error {
	file, err := os.Open(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer file.Close()
	var r io.Reader = io.NewSectionReader(file, 0, f.offset)
	if f.gz {
		zr, err := gzip.NewReader(file)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	rd := ndjson.NewReader(bufio.NewReaderSize(r, 256<<10))
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(rec)
	}
}

// appendLower appends b lowercased (ASCII only: a needle's other letters
// match as they are written).
func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
