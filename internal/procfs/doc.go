// Package procfs reads the kernel's files under /proc and /sys for a
// sampler that reads them at every tick: into one reusable buffer, with raw
// syscalls where a file cannot block, and through descriptors kept open
// across ticks (a File) where that saves the open and close -- within a
// budget of descriptors, and only on the real /proc and /sys.
//
// It reads; it does not parse. Its callers (the sampler today, container
// and pod watchers next) parse the bytes with pure functions of their own,
// tested on literals. A Reader is given its roots: with a fixture tree as
// either, nothing is kept open, so tests may rewrite fixture files under a
// running reader.
package procfs
