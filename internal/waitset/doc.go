// Package waitset is the OS event loop of a goroutine that samples: one
// epoll set holding its periodic timers (timerfds, with a time.Ticker where
// a seccomp filter refuses them), a pidfd per process whose end it watches,
// and an eventfd through which other goroutines wake it. The set's own
// descriptor sits in the Go runtime's poller, so a Wait costs one thread's
// wake-up and no allocation.
//
// The sampler waits on a Set between ticks; watchers of other things that
// end (containers, pods) add their members to the same kind of set rather
// than run goroutines of their own. A Set is used by one waiting goroutine;
// Wake may be called from any.
package waitset
