package ndjson

import "context"

// Item is one result of Next, handed over a channel: the record owns its
// Raw bytes.
type Item struct {
	Record Record
	Err    error
}

// Chan reads records in a goroutine and sends each, with its own copy of
// Raw, so a tool can wait for input and for timers or signals at once. The
// last item carries Next's error (io.EOF at the end of input), then the
// channel is closed; sending stops when ctx ends.
func (r *Reader) Chan(ctx context.Context) <-chan Item {
	ch := make(chan Item)
	go func() {
		defer close(ch)
		for {
			rec, err := r.Next()
			if err == nil {
				rec.Raw = append([]byte(nil), rec.Raw...)
			}
			select {
			case ch <- Item{rec, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}
