// Package sampler watches processes and the host through /proc and /sys and
// produces schema v1 samples. Each process is known by its identity (PID and
// start time in clock ticks), so a reused PID is always a new process. Exits
// are noticed the moment they happen through pidfd notifications (with a
// polling fallback), not at the next tick.
//
// Between ticks the sampling goroutine sleeps on one epoll set (package waitset):
// the tick's timerfd, the pidfds and an eventfd for wake-ups, in the Go
// runtime's own poller, so a tick wakes one thread once. A tick of a known
// --pid or launched process allocates nothing: the sample handed to Emit is
// reused.
//
// The parsers (parseStat, parseStatus, parseCgroup, parseVmstat, parsePSI,
// parseMemoryEvents, parseOOMControl, parseLimits) are pure functions over
// file contents; every read goes through a root directory given by the
// caller, so tests run on fixture trees.
package sampler
