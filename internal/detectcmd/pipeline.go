package detectcmd

import (
	"errors"
	"io"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/detect"
	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/ndjson"
)

// Reading and decoding the samples takes about two thirds of sre-detect's
// time, the detectors the rest, so on a machine with a spare core a replay
// runs the two side by side: one goroutine reads and decodes lines, the
// other runs the detectors and writes. They hand over batches, not single
// records (a channel hand-over per record cost more than it saved), and a
// batch leaves as soon as no further whole line is waiting, so on a live
// stream each record is handed over the moment it is read.
//
// Everything the user sees comes from the detector side, in input order:
// records, events and every warning, the reader's included.

const (
	batchLines = 256
	batchBytes = 256 << 10
	batches    = 3 // one being filled, one being used, one between
)

// batch is a run of consecutive input lines: records with their bytes
// copied into arena (the reader's buffer moves on), samples decoded.
type batch struct {
	items []item
	arena []byte
}

// item is one step for the detector side: a record, a warning, or the end.
type item struct {
	rec    ndjson.Record // Raw in the batch's arena; nil for a step that is not a record
	sample detect.Sample // rec's sample, decoded, when rec.Kind is a sample
	derr   error         // why the sample is unusable
	skip   *ndjson.Skip  // a line the reader skipped: its warning
	snap   *ndjson.Counts
	end    bool
	err    error // with end: how the input ended
}

// produce reads and decodes lines into batches until the input ends or
// quit is closed.
func (d *driver) produce(full chan<- *batch, free <-chan *batch, quit <-chan struct{}) {
	b := <-free
	d.cur = b
	send := func() bool {
		select {
		case full <- b:
		case <-quit:
			return false
		}
		select {
		case b = <-free:
		case <-quit:
			return false
		}
		b.items, b.arena = b.items[:0], b.arena[:0]
		d.cur = b
		return true
	}
	var last int64
	for {
		rec, err := d.r.Next()
		if err != nil {
			b.items = append(b.items, item{end: true, err: err})
			send()
			return
		}
		if len(b.arena)+len(rec.Raw) > cap(b.arena) && len(b.items) > 0 && !send() {
			return // rec.Raw is still the reader's: no Next since
		}
		start := len(b.arena)
		b.arena = append(b.arena, rec.Raw...)
		at := len(b.items)
		b.items = append(b.items, item{rec: rec})
		it := &b.items[at]
		it.rec.Raw = b.arena[start:len(b.arena):len(b.arena)]
		if rec.Kind == event.KindSample {
			// The reader's check (d.dec.Check) decoded it.
			s, derr := d.dec.Last()
			it.sample, it.derr = *s, derr
			it.sample.Raw = it.rec.Raw
		}
		if rec.Line != last+1 { // lines were skipped (or blank) since the last record
			c := d.r.Counts()
			it.snap = &c
		}
		last = rec.Line
		if len(b.items) >= batchLines || !d.r.Ready() {
			if !send() {
				return
			}
		}
	}
}

// consume runs the detector side over the batches until the end item,
// a stop, or an error.
func (d *driver) consume(full <-chan *batch, free chan<- *batch) error {
	for b := range full {
		for i := range b.items {
			it := &b.items[i]
			d.mu.Lock()
			if d.stopped {
				d.mu.Unlock()
				return nil
			}
			if it.snap != nil {
				d.snap = *it.snap
			}
			var err error
			switch {
			case it.skip != nil:
				d.warn.Skip(*it.skip)
			case it.end:
				d.mu.Unlock()
				if errors.Is(it.err, io.EOF) {
					return nil
				}
				return cli.Failf("read stdin: %v", it.err)
			case it.rec.Raw != nil:
				err = d.use(it.rec, it.derr, &it.sample)
			}
			d.mu.Unlock()
			if err != nil {
				return err
			}
		}
		free <- b
	}
	return nil
}

// pipeline runs produce and consume; it returns consume's result.
func (d *driver) pipeline(quit <-chan struct{}) error {
	full := make(chan *batch, 1)
	free := make(chan *batch, batches)
	for range batches {
		free <- &batch{items: make([]item, 0, batchLines+8), arena: make([]byte, 0, batchBytes)}
	}
	go d.produce(full, free, quit)
	return d.consume(full, free)
}
