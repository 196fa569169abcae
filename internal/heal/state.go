package heal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// StateName is the state file inside the report directory.
const StateName = "heal-state.json"

// Budget is the retry budget of one rule for one target.
type Budget struct {
	Rule   string `json:"rule"`
	Target string `json:"target"`
	// Attempt counts attempts since the last reset: it picks the backoff delay.
	Attempt int `json:"attempt"`
	// Attempts are the times actions were scheduled, within the retry window.
	Attempts []time.Time `json:"attempts,omitempty"`
	// Next is when the latest action was due to run (cooldown counts from it).
	Next   time.Time `json:"next,omitzero"`
	GaveUp bool      `json:"gave_up"`
	// UpSince is when the target was last seen up after being down (zero while down).
	UpSince time.Time `json:"up_since,omitzero"`

	pending bool
}

func (b *Budget) reset() {
	b.Attempt, b.Attempts, b.GaveUp = 0, nil, false
}

// State is every budget, keyed by rule and target.
type State struct {
	budgets map[string]*Budget
}

type stateFile struct {
	V       int       `json:"v"`
	Budgets []*Budget `json:"budgets"`
}

func key(rule, target string) string { return rule + "\x00" + target }

// NewState returns an empty state.
func NewState() *State { return &State{budgets: map[string]*Budget{}} }

// Budget returns the budget of rule for target, creating it.
func (s *State) Budget(rule, target string) *Budget {
	k := key(rule, target)
	b := s.budgets[k]
	if b == nil {
		b = &Budget{Rule: rule, Target: target}
		s.budgets[k] = b
	}
	return b
}

// Lookup returns the budget of rule for target, or nil.
func (s *State) Lookup(rule, target string) *Budget { return s.budgets[key(rule, target)] }

// LoadState reads path; a missing file is an empty state.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return parseState(b)
}

func parseState(b []byte) (*State, error) {
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	s := NewState()
	for _, b := range f.Budgets {
		if b != nil {
			s.budgets[key(b.Rule, b.Target)] = b
		}
	}
	return s, nil
}

// Save writes the state atomically: temp file, fsync, rename, fsync dir.
func (s *State) Save(path string) error {
	f := stateFile{V: 1}
	for _, b := range s.budgets {
		f.Budgets = append(f.Budgets, b)
	}
	sort.Slice(f.Budgets, func(i, j int) bool {
		return key(f.Budgets[i].Rule, f.Budgets[i].Target) < key(f.Budgets[j].Rule, f.Budgets[j].Target)
	})
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".heal-state-*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("state: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state: fsync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
