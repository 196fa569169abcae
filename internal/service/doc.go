// Package service runs one watch as a long-running service: the chain
// sre-sample | sre-detect --pass | sre-report [| sre-heal] of a YAML config,
// started again with backoff when a stage is lost (the unwatched time
// recorded in the archive as a watch_gap notice), with the service
// manager told how it goes (READY once the first sample went through every
// stage, STATUS with the last event, WATCHDOG while records flow,
// STOPPING on the way out) and each event sent to the journal with its
// SRE_* fields. The manager and the journal are interfaces, implemented
// for systemd in systemd.go with go-systemd.
package service
