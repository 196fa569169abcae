package heal

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/localsre/sre-agent/internal/event"
)

// systemdRestart runs `systemctl [--user] restart -- UNIT`. The unit may
// hold {target}; the filled-in name must still be a valid unit name.
type systemdRestart struct{}

var _ Action = systemdRestart{}

var unitName = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]{1,255}$`)

func checkSystemd(r *Rule) error {
	if err := noCommand(r); err != nil {
		return err
	}
	if r.Unit == "" {
		return keyErrf("unit", "action systemd_restart: unit: missing")
	}
	if r.Systemctl == "" {
		r.Systemctl = DefaultSystemctl
	}
	if !filepath.IsAbs(r.Systemctl) {
		return keyErrf("systemctl", "systemctl %q: must be an absolute path", r.Systemctl)
	}
	probe := strings.NewReplacer("{target}", "x", "{pid}", "1", "{event_id}", "x", "{attempt}", "1", "{report}", "x").Replace(r.Unit)
	if !validUnit(probe) {
		return keyErrf("unit", "unit %q: not a systemd unit name", r.Unit)
	}
	return nil
}

func validUnit(s string) bool {
	return unitName.MatchString(s) && !strings.HasPrefix(s, "-")
}

func (systemdRestart) Do(ctx context.Context, j *Job) Outcome {
	unit := j.Expand([]string{"", j.Rule.Unit})[1]
	argv := []string{j.Rule.Systemctl}
	if j.Rule.UserUnit {
		argv = append(argv, "--user")
	}
	argv = append(argv, "restart", "--", unit)
	if !validUnit(unit) {
		return Outcome{Argv: argv, Result: event.ResultSkipped, Err: "unit " + unit + ": not a systemd unit name"}
	}
	return runArgv(ctx, j, argv)
}
