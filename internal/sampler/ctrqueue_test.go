package sampler

import (
	"testing"
	"time"
)

// TestCtrQueueBounded: the daemon's messages waiting for the sampler's
// loop are bounded; one more waits for the loop to take them (none is
// dropped), and close ends the wait when the sampler stops.
func TestCtrQueueBounded(t *testing.T) {
	var q ctrQueue
	for range maxCtrQueue {
		q.push(ctrMsg{warn: "x"}, nil)
	}
	pushed := make(chan struct{})
	go func() {
		q.push(ctrMsg{warn: "one more"}, nil)
		close(pushed)
	}()
	select {
	case <-pushed:
		t.Fatalf("push past %d did not wait", maxCtrQueue)
	case <-time.After(50 * time.Millisecond):
	}
	if got := q.take(nil); len(got) != maxCtrQueue {
		t.Fatalf("took %d, want %d", len(got), maxCtrQueue)
	}
	select {
	case <-pushed:
	case <-time.After(30 * time.Second):
		t.Fatal("push still waiting after the loop took the queue")
	}
	if got := q.take(nil); len(got) != 1 || got[0].warn != "one more" {
		t.Fatalf("took %+v, want the one more", got)
	}
	// A stopping sampler: a push waiting for room returns.
	for range maxCtrQueue {
		q.push(ctrMsg{}, nil)
	}
	done := make(chan struct{})
	go func() { q.push(ctrMsg{}, nil); close(done) }()
	q.close()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("push still waiting after close")
	}
}
