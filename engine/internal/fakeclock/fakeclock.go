// Package fakeclock is a clock for tests whose timers fire only when the
// test advances it: a timeout of minutes takes the microseconds an Advance
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
	follow bool          // Now is the real time plus offset
	now    time.Time     // else Now is now
	offset time.Duration // what Advance added to the real time
	seq    int
	timers []*timer
}

type timer struct {
	at  time.Time
	seq int // arming order: timers due at the same instant fire in it
	f   func()
}

// New returns a clock that reads start until it is advanced.
func New(start time.Time) *Clock {
	return &Clock{now: start}
}

// NewFollowing returns a clock that reads the real time plus what it was
// advanced by, for tests that want timestamps to move on their own; its
// functions still fire only in Advance.
func NewFollowing() *Clock {
	return &Clock{follow: true}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if c.follow {
		return time.Now().Add(c.offset)
	}
	return c.now
}

// setLocked moves the clock forward to t (never back).
func (c *Clock) setLocked(t time.Time) {
	if c.follow {
		c.offset = max(c.offset, time.Until(t))
		return
	}
	if t.After(c.now) {
		c.now = t
	}
}

// AfterFunc arranges for f to be called once the clock has been advanced by
// d. f runs in the goroutine that calls Advance, before Advance returns.
// stop cancels the call and reports whether it did (false once f ran or
// was stopped), as time.Timer.Stop.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{at: c.nowLocked().Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
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
// time and at it, the functions that became due; one that such a function
// arms runs too if it is due within d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.nowLocked().Add(d)
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
		c.setLocked(t.at)
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.setLocked(end)
	c.mu.Unlock()
}

// Pending returns the number of functions waiting for their time.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
