package detect

import (
	"encoding/json"
	"fmt"

	"github.com/localsre/sre-agent/internal/event"
)

// custom: --when NAME=EXPR conditions, jq expressions evaluated on each
// tick sample (the whole record is the input). A condition holds when the
// first output is neither false nor null; an error counts as false and is
// reported once. Each condition is edge-triggered per process (or per
// target, for samples without one), with --when-for and --cooldown.
type custom struct {
	cfg    *Config
	warned map[string]bool
}

var _ Detector = (*custom)(nil)

func newCustom(cfg *Config) Detector { return &custom{cfg: cfg, warned: map[string]bool{}} }

type customState struct{ conds []cond }

func (d *custom) Observe(o *Obs) {
	var st, tst *customState
	switch o.Kind {
	case KindUp:
		// A condition that fired on a sample without a process (the target
		// was down) ends on the first sample where it is false, up or not.
		st, tst = procState[customState](o), targetState[customState](o)
	case KindDown, KindPod:
		// A pod target's sample has no process: its conditions are the
		// target's.
		st = targetState[customState](o)
	default:
		return
	}
	var input any
	decoded := false
	for i := range d.cfg.Whens {
		w := &d.cfg.Whens[i]
		if !decoded {
			if err := json.Unmarshal(o.S.Raw, &input); err != nil {
				return
			}
			decoded = true
		}
		on := d.eval(w, input)
		d.step(o, st, i, on, o.P)
		if tst != nil && tst.conds != nil && tst.conds[i].firing {
			d.step(o, tst, i, on, nil)
		}
	}
}

func (d *custom) step(o *Obs, st *customState, i int, on bool, p *Proc) {
	if st.conds == nil {
		st.conds = make([]cond, len(d.cfg.Whens))
	}
	w, c := &d.cfg.Whens[i], &st.conds[i]
	fire, clear := c.step(o.S.TS, on, !on, w.For, d.cfg.Cooldown)
	subj := o.T.Name
	if p != nil {
		subj = subject(o.T, p)
	}
	switch {
	case fire:
		c.firedID = o.emit(ev{typ: "custom", sev: w.Severity, key: w.Name, proc: p, noProcess: p == nil,
			detail: map[string]any{"name": w.Name, "expr": w.Expr, "for_s": w.For.Seconds()},
			msg:    fmt.Sprintf("Condition %s holds for %s: %s.", w.Name, subj, w.Expr)})
	case clear:
		o.emit(ev{typ: "custom_ok", sev: event.SevInfo, key: w.Name, proc: p, noProcess: p == nil,
			detail: map[string]any{"name": w.Name, "expr": w.Expr, "fired_id": c.firedID, "duration_s": round(o.S.TS.Sub(c.firedAt).Seconds(), 3)},
			msg:    fmt.Sprintf("Condition %s no longer holds for %s.", w.Name, subj)})
	}
}

func (d *custom) eval(w *When, input any) bool {
	it := w.code.Run(input)
	v, ok := it.Next()
	if !ok {
		return false
	}
	if err, isErr := v.(error); isErr {
		if !d.warned[w.Name] {
			d.warned[w.Name] = true
			d.cfg.Warnf("--when %s: %v (counted as false; further errors not shown)", w.Name, err)
		}
		return false
	}
	return v != nil && v != false
}
