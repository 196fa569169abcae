package score

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
)

// chunkSize is how much of an archive one worker takes at a time; more than
// a longest valid line, so every valid line fits in one chunk.
const chunkSize = ndjson.DefaultMaxLine + 2

// SkipBadRecord counts a valid JSON line whose fields have the wrong types.
const SkipBadRecord = "bad_record"

// ReadArchive folds every record of r into agg. Chunks of whole lines are
// decoded in parallel — windows are sums over timestamps, so the order in
// which records reach agg does not matter — and agg is only touched from one
// goroutine. Memory is a few chunks, whatever the archive's size. onSkip
// (may be nil) hears of every skipped line, with its line number; the
// counts cover the whole input. Cancelling ctx stops reading early.
func ReadArchive(ctx context.Context, r io.Reader, agg *Aggregator, onSkip func(ndjson.Skip)) (ndjson.Counts, error) {
	workers := max(1, min(runtime.GOMAXPROCS(0), 4))
	type job struct {
		buf       []byte
		n         int
		firstLine int64
		oversize  int64 // lines too long for a chunk, skipped before this one
	}
	type result struct {
		recs   []Rec
		counts ndjson.Counts
	}
	jobs := make(chan job, workers)
	results := make(chan result, workers)
	free := make(chan []byte, workers+2)
	recs := make(chan []Rec, 2*workers+2) // decoded batches, reused
	for range cap(recs) {
		recs <- nil
	}
	for range cap(free) {
		free <- make([]byte, chunkSize)
	}
	var mu sync.Mutex // onSkip is called from several workers
	skip := func(s ndjson.Skip) {
		if onSkip != nil {
			mu.Lock()
			onSkip(s)
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			in := event.NewInterner()
			for j := range jobs {
				res := result{recs: (<-recs)[:0]}
				rd := ndjson.NewReader(bytes.NewReader(j.buf[:j.n]), ndjson.OnSkip(func(s ndjson.Skip) {
					s.Line += j.firstLine - 1
					skip(s)
				}))
				var bad int64
				for {
					rec, err := rd.Next()
					if err != nil {
						break // EOF: the chunk is in memory, no other error
					}
					rr, ok, derr := event.ReadRecord(rec.Kind, rec.Raw, in)
					if derr != nil {
						bad++
						skip(ndjson.Skip{Line: rec.Line + j.firstLine - 1, Reason: SkipBadRecord, Err: derr})
						continue
					}
					if ok {
						res.recs = append(res.recs, rr)
					}
				}
				res.counts = rd.Counts()
				res.counts.Records -= bad
				res.counts.Skipped[SkipBadRecord] += bad
				res.counts.Skipped[ndjson.SkipOversize] += j.oversize
				res.counts.Lines += j.oversize
				free <- j.buf
				results <- res
			}
		})
	}
	total := ndjson.Counts{Skipped: map[string]int64{}}
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for res := range results {
			for i := range res.recs {
				agg.Add(&res.recs[i])
			}
			clear(res.recs) // drop the strings, keep the array
			recs <- res.recs
			total.Lines += res.counts.Lines
			total.Records += res.counts.Records
			total.Blank += res.counts.Blank
			for k, v := range res.counts.Skipped {
				if v != 0 {
					total.Skipped[k] += v
				}
			}
		}
	}()
	err := split(ctx, r, free, func(buf []byte, n int, firstLine, oversize int64) {
		jobs <- job{buf: buf, n: n, firstLine: firstLine, oversize: oversize}
	}, skip)
	close(jobs)
	wg.Wait()
	close(results)
	<-applied
	return total, err
}

// split cuts r into chunks that end at a newline (the last may not) and
// hands each to send with the number of its first line.
func split(ctx context.Context, r io.Reader, free chan []byte, send func([]byte, int, int64, int64), skip func(ndjson.Skip)) error {
	line := int64(1)
	var carry []byte
	var oversize int64
	skipping := false // inside a line longer than a chunk
	for {
		if ctx.Err() != nil {
			return nil
		}
		buf := <-free
		n := copy(buf, carry)
		m, err := io.ReadFull(r, buf[n:])
		n += m
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			free <- buf
			return err
		}
		data := buf[:n]
		if skipping {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				carry = nil
				if eof { // the long line ends the input
					skip(ndjson.Skip{Line: line, Reason: ndjson.SkipOversize, Err: errors.New("longer than a chunk")})
					send(buf, 0, line, oversize+1)
					return nil
				}
				free <- buf
				continue
			}
			skipping = false
			skip(ndjson.Skip{Line: line, Reason: ndjson.SkipOversize, Err: errors.New("longer than a chunk")})
			oversize++
			line++
			data = data[i+1:]
			n = copy(buf, data)
			data = buf[:n]
		}
		cut := len(data)
		if !eof {
			cut = bytes.LastIndexByte(data, '\n') + 1
			if cut == 0 { // no newline in a whole chunk: one oversize line
				skipping, carry = true, nil
				free <- buf
				continue
			}
		}
		carry = append(carry[:0], data[cut:]...)
		if cut > 0 || oversize > 0 {
			send(buf, cut, line, oversize)
			oversize = 0
			line += int64(bytes.Count(data[:cut], []byte{'\n'}))
		} else {
			free <- buf
		}
		if eof {
			return nil
		}
	}
}
