// Package detect turns sample records into event and summary records: the
// engine behind sre-detect.
//
// The Engine reads each sample line with a small decoder that picks only the
// fields the detectors use (sample.go), keeps per-target and per-process
// (pid, start_ticks) state, and hands every observation — a process began,
// ended, was sampled up; a target was sampled down; a sample arrived — to
// each Detector in the registry (registry.go), one file per detector.
// Every condition is edge-triggered per process identity, and all timing is
// on the samples' own timestamps, never the wall clock: the same input
// always gives the same events, ids included.
package detect
