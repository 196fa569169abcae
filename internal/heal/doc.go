// Package heal is sre-heal's domain: the rules file, the engine that turns
// events into bounded, audited actions (backoff, budget, cooldown,
// escalation), the state that survives restarts, and the actions
// themselves, one file each behind the Action interface.
package heal
