// Package logtail keeps the last lines of application logs in memory from
// start-up, so a crash report shows them even when the log was rotated,
// truncated, deleted or overwritten just before the crash, and says which.
//
// A Follower reads a file with github.com/nxadm/tail (inotify, complete
// lines) and mends what that library loses, as measured here with v1.4.11:
//
//   - On rename or delete, tail closes the file and reopens the path: lines
//     written to the old file after its last read are lost. The follower
//     holds its own descriptor on the file tail reads; when the file goes, it
//     keeps reading it (before any line of the new file, and for as long as
//     writers still append to it), and it opens the new file itself.
//   - tail decides "truncated" by the size of whatever the path names, so a
//     rotation can look like a truncation, then be reopened twice (lines
//     doubled). The follower decides from the inodes: same file and shorter
//     is truncated or overwritten; another file or none is rotated or
//     deleted. tail runs with ReOpen off and is stopped at its first sign of
//     a change, so each tail session reads exactly one file, whose identity
//     is checked when the session starts.
//   - tail adds its inotify watch only after reading to the end, so a write,
//     truncation or rename in between goes unseen and tail waits forever. A
//     watchdog on the poll interval restarts the session where the last
//     delivered line ended.
//   - A path that is a FIFO or a device would block tail's open or never
//     end: the follower refuses anything but a regular file before opening.
//
// The backfill at start is a bounded read from the end of the file (lines ×
// maximum line length), lines are cut to a maximum length, and the ring
// holds lines × that maximum. Snapshot also reads, without consuming, the
// complete lines tail has not delivered yet, so a report of a crash a
// millisecond ago holds its last lines.
//
// NewCollector and NewJournalCollector turn followers and systemd units into
// report sections (package forensics). ParseSpecs parses the --log flag.
package logtail
