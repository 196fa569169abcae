package logtail

// nxadm/tail tells what happened to the file only through its Logger, in
// these Printf formats (v1.4.11, tail.go). The follower hears them as notes,
// synchronously: tail's goroutine waits in Printf while the follower looks
// at the file and stops the session, so tail never gets to reopen the path
// itself. TestFollower/copytruncate fails if an upgrade changes the wording
// (the follower would still recover through its watchdog, but would no
// longer tell a truncation it did not see itself).
const (
	fmtReopenTruncated = "Re-opening truncated file %s ..."
	fmtReopenMoved     = "Re-opening moved/deleted file %s ..."       // with ReOpen, not used
	fmtGone            = "Stopping tail as file no longer exists: %s" // without ReOpen
)

type note struct {
	truncated bool // tail thinks the file was truncated (else moved or deleted)
	done      chan struct{}
}

// tailLogger is the Logger given to nxadm/tail. Messages it does not know
// ("Waiting for … to appear") are dropped: the follower learns the same from
// the file itself. Fatal and Panic never exit or panic: tail does not call
// them, and a library must not end sre-report.
type tailLogger struct {
	notes chan<- note
	quit  <-chan struct{} // closed when the follower stops listening
}

func (l *tailLogger) Printf(format string, _ ...any) {
	var n note
	switch format {
	case fmtReopenTruncated:
		n = note{truncated: true}
	case fmtReopenMoved, fmtGone:
	default:
		return
	}
	n.done = make(chan struct{})
	select {
	case l.notes <- n:
	case <-l.quit:
		return
	}
	select {
	case <-n.done:
	case <-l.quit:
	}
}

func (l *tailLogger) Print(...any)          {}
func (l *tailLogger) Println(...any)        {}
func (l *tailLogger) Fatal(...any)          {}
func (l *tailLogger) Fatalf(string, ...any) {}
func (l *tailLogger) Fatalln(...any)        {}
func (l *tailLogger) Panic(...any)          {}
func (l *tailLogger) Panicf(string, ...any) {}
func (l *tailLogger) Panicln(...any)        {}
