// Package fakeclock is a clock for tests whose time moves only when the
// test says so: a timeout of minutes fires in the microseconds an Advance
// takes. It satisfies the local engine's Clock.
package fakeclock

import (
	"slices"
	"sync"
	"time"
)

// Clock is a fake clock. It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*timer
	added  chan struct{} // closed and replaced whenever a timer is added
}

type timer struct {
	at  time.Time
	seq int // creation order: timers due at the same instant fire in it
	f   func()
}

// New returns a clock that reads start until it is advanced.
func New(start time.Time) *Clock {
	return &Clock{now: start, added: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arranges for f to be called once the clock has been advanced by
// d. f runs in the goroutine that calls Advance, before Advance returns.
// stop cancels the call and reports whether it did (false once f ran or
// was stopped), as time.Timer.Stop.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	close(c.added)
	c.added = make(chan struct{})
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, t)
		if i < 0 {
			return false
		}
		c.timers = slices.Delete(c.timers, i, i+1)
		return true
	}
}

// Advance moves the clock forward by d and calls, in order of their due
// time, the functions that became due. A function due within d that
// another one arms runs too.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		next := -1
		for i, t := range c.timers {
			if t.at.After(end) {
				continue
			}
			if next < 0 || t.at.Before(c.timers[next].at) || (t.at.Equal(c.timers[next].at) && t.seq < c.timers[next].seq) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		t := c.timers[next]
		c.timers = slices.Delete(c.timers, next, next+1)
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// Pending returns the number of functions waiting for their time.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitPending blocks until at least n functions wait for their time, or
// done is closed (it then reports false). Tests call it before Advance
// when the code under test arms its timer in another goroutine.
func (c *Clock) WaitPending(done <-chan struct{}, n int) bool {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return true
		}
		added := c.added
		c.mu.Unlock()
		select {
		case <-added:
		case <-done:
			return false
		}
	}
}
