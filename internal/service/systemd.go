package service

import (
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/coreos/go-systemd/v22/journal"
)

// Systemd is the service manager and journal of systemd, through
// go-systemd: sd_notify on $NOTIFY_SOCKET, native journal entries on
// /run/systemd/journal/socket.
type Systemd struct{}

var (
	_ Notifier = Systemd{}
	_ Journal  = Systemd{}
)

// Notify sends state to $NOTIFY_SOCKET; false when there is none.
func (Systemd) Notify(state string) (bool, error) { return daemon.SdNotify(false, state) }

// Send writes one structured journal entry.
func (Systemd) Send(msg string, priority int, fields map[string]string) error {
	return journal.Send(msg, journal.Priority(priority), fields)
}

// Watchdog is the watchdog interval systemd asks of this process (0 when
// none is set, or it is for another process).
func Watchdog() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}

// JournalIsStderr reports whether standard error is connected to the
// journal ($JOURNAL_STREAM names it), so that diagnostics should carry
// their priority as a <N> prefix.
func JournalIsStderr() bool {
	ok, err := journal.StderrIsJournalStream()
	return err == nil && ok
}

// JournalAvailable reports whether the journal's socket answers.
func JournalAvailable() bool { return journal.Enabled() }
