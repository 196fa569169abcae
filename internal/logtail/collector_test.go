package logtail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/localsre/sre-agent/internal/forensics"
)

func TestCollector(t *testing.T) {
	dir := t.TempDir()
	api := filepath.Join(dir, "api.log")
	all := filepath.Join(dir, "all.log")
	missing := filepath.Join(dir, "web.log")
	writeFile(t, api, []string{"api 1", "api 2"})
	writeFile(t, all, []string{"all 1"})
	clock := func() time.Time { return time.Date(2025, 3, 1, 3, 12, 44, 0, time.UTC) }
	specs, err := ParseSpecs([]string{"api=" + api, all, "web=" + missing, "api=" + all})
	if err != nil {
		t.Fatal(err)
	}
	followers := NewFollowers(specs, 10, append(testOpts, WithClock(clock))...)
	for _, f := range followers {
		if err := f.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Stop)
	}
	c := NewCollector(followers, specs)
	now := clock().Add(time.Minute)

	tests := []struct {
		target string
		want   forensics.Section
	}{
		{"api", forensics.Section{
			Title: "Application log",
			Fields: fields(
				"File", api, "Lines kept", "2 (read 2 since start-up, 0 pushed out, 0 cut to length)", "Events", "none",
				"File", all, "Lines kept", "1 (read 1 since start-up, 0 pushed out, 0 cut to length)", "Events", "none"),
			Lines: []string{"==> " + api + " <==", "api 1", "api 2", "==> " + all + " <==", "all 1"},
		}},
		{"web", forensics.Section{
			Title: "Application log",
			Fields: fields(
				"File", all, "Lines kept", "1 (read 1 since start-up, 0 pushed out, 0 cut to length)", "Events", "none",
				"File", missing, "Lines kept", "0 (read 0 since start-up, 0 pushed out, 0 cut to length)", "Events", "missing at 03:12:44Z (does not exist; waiting for it)"),
			Lines: []string{"==> " + all + " <==", "all 1", "==> " + missing + " <=="},
		}},
		{"other", forensics.Section{
			Title: "Application log",
			Fields: fields(
				"File", all, "Lines kept", "1 (read 1 since start-up, 0 pushed out, 0 cut to length)", "Events", "none"),
			Lines: []string{"==> " + all + " <==", "all 1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got, err := c.Collect(context.Background(), &forensics.Incident{Target: tt.target, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("section (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectorNotApplicable(t *testing.T) {
	specs := []Spec{{Target: "api", Path: "/nonexistent/api.log"}}
	c := NewCollector(NewFollowers(specs, 10), specs)
	_, err := c.Collect(context.Background(), &forensics.Incident{Target: "web"})
	if !errors.Is(err, forensics.ErrNotApplicable) {
		t.Errorf("error %v, want ErrNotApplicable", err)
	}
	_, err = NewCollector(nil, nil).Collect(context.Background(), &forensics.Incident{Target: "web"})
	if !errors.Is(err, forensics.ErrNotApplicable) {
		t.Errorf("no specs: error %v, want ErrNotApplicable", err)
	}
}

func TestEventsText(t *testing.T) {
	at := time.Date(2025, 3, 1, 3, 12, 44, 0, time.UTC)
	s := Snapshot{EventsDropped: 2, Events: []Event{
		{At: at.Add(-24 * time.Hour), Kind: Deleted, Detail: "unlinked"},
		{At: at, Kind: Rotated, Detail: "renamed, new file created"},
	}}
	want := "2 earlier events not kept; deleted at 2025-02-28T03:12:44Z (unlinked); rotated at 03:12:44Z (renamed, new file created)"
	if got := eventsText(s, at); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestJournalArgs(t *testing.T) {
	want := []string{"-u", "my-app.service", "-n", "100", "--no-pager", "-o", "short-iso"}
	if diff := cmp.Diff(want, journalArgs("my-app.service")); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
}

// fakeJournalctl writes a script standing in for journalctl: it records
// its arguments and answers as told.
func fakeJournalctl(t *testing.T, body string) (prog, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	prog = filepath.Join(dir, "journalctl")
	argsFile = filepath.Join(dir, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n" + body + "\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, argsFile
}

func TestJournalCollector(t *testing.T) {
	tests := []struct {
		name  string
		units []string
		body  string
		want  forensics.Section
	}{
		{"lines", []string{"app.service"},
			`echo "2025-03-01T03:12:40+0000 host app[42]: started"; echo "2025-03-01T03:12:44+0000 host app[42]: panic"`,
			forensics.Section{Title: "Journal",
				Fields: fields("Unit", "app.service", "Lines", "2"),
				Lines: []string{"==> journalctl -u app.service <==",
					"2025-03-01T03:12:40+0000 host app[42]: started", "2025-03-01T03:12:44+0000 host app[42]: panic"}}},
		{"journal not readable", []string{"app.service"},
			`echo "-- No entries --"; echo "No journal files were found." >&2`,
			forensics.Section{Title: "Journal",
				Fields: fields("Unit", "app.service", "Lines", "0"),
				Lines:  []string{"==> journalctl -u app.service <=="},
				Notes:  []string{"journalctl -u app.service: no entries", "journalctl -u app.service: No journal files were found."}}},
		{"fails", []string{"app.service"},
			`echo "Failed to add filter for units: No data available" >&2; exit 1`,
			forensics.Section{Title: "Journal",
				Fields: fields("Unit", "app.service", "Lines", "0"),
				Lines:  []string{"==> journalctl -u app.service <=="},
				Notes: []string{"journalctl -u app.service: Failed to add filter for units: No data available",
					"journalctl -u app.service: exit status 1"}}},
		{"unit that looks like an option", []string{"--file=/etc/shadow"}, `echo should not run`,
			forensics.Section{Title: "Journal",
				Fields: fields("Unit", "--file=/etc/shadow", "Lines", "0"),
				Notes:  []string{`unit "--file=/etc/shadow": not a unit name`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, argsFile := fakeJournalctl(t, tt.body)
			got, err := NewJournalCollector(tt.units, prog).Collect(context.Background(), &forensics.Incident{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("section (-want +got):\n%s", diff)
			}
			if args, err := os.ReadFile(argsFile); err == nil {
				want := strings.Join(journalArgs(tt.units[0]), "\n") + "\n"
				if string(args) != want {
					t.Errorf("journalctl ran with %q, want %q", args, want)
				}
			}
		})
	}
}

func TestJournalCollectorAbsent(t *testing.T) {
	tests := []struct {
		name string
		c    *journalCollector
		want string
	}{
		{"not in PATH", &journalCollector{units: []string{"app"}, lookPath: func(string) (string, error) {
			return "", errors.New(`exec: "journalctl": executable file not found in $PATH`)
		}}, `journalctl not available: exec: "journalctl": executable file not found in $PATH`},
		{"given path absent", &journalCollector{units: []string{"app"}, journalctl: "/nonexistent/journalctl"},
			"journalctl: cannot run: fork/exec /nonexistent/journalctl: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Collect(context.Background(), &forensics.Incident{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Notes) == 0 || got.Notes[len(got.Notes)-1] != tt.want {
				t.Errorf("notes %q, want last %q", got.Notes, tt.want)
			}
		})
	}
	if _, err := NewJournalCollector(nil, "").Collect(context.Background(), &forensics.Incident{}); !errors.Is(err, forensics.ErrNotApplicable) {
		t.Errorf("no units: %v, want ErrNotApplicable", err)
	}
}

// TestJournalCollectorHere runs the real journalctl when there is one: on
// these machines there is no systemd journal, and the section must say so
// rather than fail.
func TestJournalCollectorHere(t *testing.T) {
	if _, err := os.Stat("/usr/bin/journalctl"); err != nil {
		t.Skip("no journalctl on this machine")
	}
	got, err := NewJournalCollector([]string{"sre-agent-test.service"}, "").Collect(context.Background(), &forensics.Incident{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Lines) > 1 || len(got.Notes) == 0 {
		t.Errorf("no unit sre-agent-test: want no lines and a note saying why, got %+v", got)
	}
}

// fields builds a section's fields from key, value pairs.
func fields(kv ...string) []forensics.Field {
	var out []forensics.Field
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, forensics.Field{Key: kv[i], Value: kv[i+1]})
	}
	return out
}
