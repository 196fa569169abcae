package ndjson

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestChan(t *testing.T) {
	in := `{"v":1,"kind":"a"}` + "\n" + "bad\n" + `{"v":1,"kind":"b"}` + "\n"
	var got []string
	var last error
	for it := range NewReader(strings.NewReader(in)).Chan(context.Background()) {
		if it.Err != nil {
			last = it.Err
			continue
		}
		got = append(got, string(it.Record.Raw))
	}
	want := []string{`{"v":1,"kind":"a"}`, `{"v":1,"kind":"b"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if !errors.Is(last, io.EOF) {
		t.Errorf("last item error = %v, want io.EOF", last)
	}
}

// A cancelled context stops the sender; nothing blocks forever.
func TestChanCancel(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch := NewReader(pr).Chan(ctx)
	go pw.Write([]byte(`{"v":1,"kind":"a"}` + "\n" + `{"v":1,"kind":"b"}` + "\n"))
	<-ch // the first record; the second waits to be sent
	cancel()
	select {
	case it, ok := <-ch:
		// The select in Chan may still pick the send: at most one more item.
		if ok && it.Err != nil {
			t.Errorf("unexpected error %v", it.Err)
		}
	case <-time.After(50 * time.Millisecond):
	}
}
