package detectcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/localsre/sre-agent/internal/detect"
)

// The --state file holds the last sighting of each target, so that an
// sre-detect started after a gap in the watch (a stage lost, a reboot)
// tells what happened meanwhile: a target that was up and is down ended
// unwatched (a crash), one up with another process was restarted. It is
// written when a process of a target began or ended, else at most every
// stateEvery of sample time, and at the end, through a temporary file and a
// rename: a reader never sees half of it. It is a
// hint, not a record, so it is not fsync'd.

const stateEvery = 2 * time.Second

type stateFile struct {
	V       int               `json:"v"`
	Targets []detect.Sighting `json:"targets"`
}

// readState reads a --state file; a missing one is a first run.
func readState(path string) ([]detect.Sighting, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, err
	}
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, fmt.Errorf("not a state file sre-detect wrote: %v (remove it to start afresh)", err)
	}
	if sf.V != 1 {
		return nil, fmt.Errorf("state file version %d: want 1 (remove it to start afresh)", sf.V)
	}
	return sf.Targets, nil
}

// keepState writes the state file when a process began or ended, when
// stateEvery of sample time went by since the last write, or now when
// final.
func (d *driver) keepState(ts time.Time, final bool) {
	changed := d.eng.Changes() != d.stateChanges
	if d.o.State == "" || !final && !changed && ts.Sub(d.stateAt) < stateEvery {
		return
	}
	d.stateAt, d.stateChanges = ts, d.eng.Changes()
	err := writeState(d.o.State, d.eng.Sightings())
	msg := ""
	if err != nil {
		var pe *fs.PathError // its temporary file's name changes with each try
		if errors.As(err, &pe) {
			err = pe.Err
		}
		msg = err.Error()
	}
	if msg != d.stateErr {
		if msg != "" {
			fmt.Fprintf(d.stderr, "%s: --state %s: %s; a restart will not know what happened meanwhile\n", tool, d.o.State, msg)
		} else {
			fmt.Fprintf(d.stderr, "%s: --state %s: written again\n", tool, d.o.State)
		}
		d.stateErr = msg
	}
}

func writeState(path string, sg []detect.Sighting) error {
	b, err := json.Marshal(stateFile{V: 1, Targets: sg})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
