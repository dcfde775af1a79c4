package local

import "time"

// Clock is the engine's time: job and attempt timestamps, the signature
// clock-skew check, attempt timeouts and the kill grace. Tests inject a
// fake one so that a 60 s timeout and a 30 s grace take no real time.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed. stop
	// cancels the call and reports whether it did, as time.Timer.Stop.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realClock is the default Clock: the time package's.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
