package logtail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/localsre/sre-agent/internal/forensics"
)

// Journal collector limits.
const (
	journalLines   = 100
	journalTimeout = 2 * time.Second
	journalOutMax  = journalLines * (DefaultMaxLineBytes + 128)
	journalErrMax  = 4 << 10
)

// journalCollector is the report's "Journal" section: the last lines of
// each --journal-unit, through journalctl.
type journalCollector struct {
	units      []string
	journalctl string
	lookPath   func(string) (string, error)
}

var _ forensics.Collector = (*journalCollector)(nil)

// NewJournalCollector returns the collector of `journalctl -u UNIT -n 100
// --no-pager -o short-iso` for each unit. journalctl is the program's path;
// empty means look it up in PATH. When journalctl is absent, fails, times
// out (2 s, or ctx's deadline if sooner) or finds no readable journal, the
// section says so in its notes: an ordinary user not in systemd-journal
// sees only their own units' lines, or none. No units: ErrNotApplicable.
func NewJournalCollector(units []string, journalctl string) forensics.Collector {
	return &journalCollector{units: units, journalctl: journalctl, lookPath: exec.LookPath}
}

// journalArgs is the argument list for one unit. The unit comes after -u
// as its own argument, so it cannot be read as an option; units starting
// with '-' are refused before this.
func journalArgs(unit string) []string {
	return []string{"-u", unit, "-n", strconv.Itoa(journalLines), "--no-pager", "-o", "short-iso"}
}

func (c *journalCollector) Collect(ctx context.Context, inc *forensics.Incident) (forensics.Section, error) {
	if len(c.units) == 0 {
		return forensics.Section{}, forensics.ErrNotApplicable
	}
	sec := forensics.Section{Title: "Journal"}
	prog := c.journalctl
	if prog == "" {
		p, err := c.lookPath("journalctl")
		if err != nil {
			sec.Note("journalctl not available: %v", err)
			return sec, nil
		}
		prog = p
	}
	for _, u := range c.units {
		sec.Add("Unit", u)
		if u == "" || strings.HasPrefix(u, "-") || strings.ContainsFunc(u, isControl) {
			sec.Add("Lines", "0")
			sec.Note("unit %q: not a unit name", u)
			continue
		}
		lines, notes := c.unit(ctx, prog, u)
		sec.Add("Lines", strconv.Itoa(len(lines)))
		sec.Lines = append(sec.Lines, "==> journalctl -u "+u+" <==")
		sec.Lines = append(sec.Lines, lines...)
		sec.Notes = append(sec.Notes, notes...)
	}
	return sec, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// unit runs journalctl for one unit and returns its lines, and notes on
// why there are none or fewer.
func (c *journalCollector) unit(ctx context.Context, prog, unit string) (lines, notes []string) {
	ctx, cancel := context.WithTimeout(ctx, journalTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, journalArgs(unit)...)
	cmd.Env = append(cmd.Environ(), "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "LC_ALL=C")
	cmd.WaitDelay = 500 * time.Millisecond
	out := &capWriter{max: journalOutMax}
	errOut := &capWriter{max: journalErrMax}
	cmd.Stdout, cmd.Stderr = out, errOut
	err := cmd.Run()
	for l := range strings.Lines(out.buf.String()) {
		l = strings.TrimRight(l, "\r\n")
		if l == "-- No entries --" {
			notes = append(notes, fmt.Sprintf("journalctl -u %s: no entries", unit))
			continue
		}
		lines = append(lines, markCut(cutLine(l, DefaultMaxLineBytes)))
	}
	if out.over > 0 {
		notes = append(notes, fmt.Sprintf("journalctl -u %s: output cut after %d bytes", unit, journalOutMax))
	}
	for l := range strings.Lines(errOut.buf.String()) {
		if l = strings.TrimSpace(l); l != "" {
			notes = append(notes, fmt.Sprintf("journalctl -u %s: %s", unit, l))
		}
	}
	switch {
	case ctx.Err() != nil:
		notes = append(notes, fmt.Sprintf("journalctl -u %s: no answer in time: %v", unit, ctx.Err()))
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			notes = append(notes, fmt.Sprintf("journalctl -u %s: %v", unit, ee))
		} else {
			notes = append(notes, fmt.Sprintf("journalctl: cannot run: %v", err))
		}
	}
	return lines, notes
}

// capWriter keeps the first max bytes written and counts the rest, so a
// runaway command cannot grow the report's memory.
type capWriter struct {
	max  int
	buf  bytes.Buffer
	over int
}

func (w *capWriter) Write(p []byte) (int, error) {
	room := min(w.max-w.buf.Len(), len(p))
	w.buf.Write(p[:room])
	w.over += len(p) - room
	return len(p), nil
}
