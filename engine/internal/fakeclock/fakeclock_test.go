package fakeclock

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// TestAdvance: functions run when their time is reached, in order of due
// time (then of arming), at their due time, and not before.
func TestAdvance(t *testing.T) {
	c := New(t0)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+c.Now().Sub(t0).String()) }
	}
	c.AfterFunc(30*time.Second, at("b"))
	c.AfterFunc(10*time.Second, at("a"))
	c.AfterFunc(30*time.Second, at("c"))
	stopD := c.AfterFunc(20*time.Second, at("d"))
	c.AfterFunc(time.Minute, func() {
		at("e")()
		c.AfterFunc(5*time.Second, at("f")) // armed by a function: due within the same Advance
	})
	if !stopD() || stopD() {
		t.Error("stop: want true once, then false")
	}
	c.Advance(9 * time.Second)
	if len(got) != 0 || c.Pending() != 4 {
		t.Fatalf("after 9s: ran %v, %d pending", got, c.Pending())
	}
	c.Advance(2 * time.Minute)
	want := []string{"a@10s", "b@30s", "c@30s", "e@1m0s", "f@1m5s"}
	if !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
	if d := c.Now().Sub(t0); d != 2*time.Minute+9*time.Second {
		t.Errorf("now is t0+%v", d)
	}
	if c.Pending() != 0 {
		t.Errorf("%d pending", c.Pending())
	}
}

// TestFollowing: a following clock moves with the real time and by what
// it is advanced; its functions fire only in Advance.
func TestFollowing(t *testing.T) {
	c := NewFollowing()
	before := time.Now()
	if now := c.Now(); now.Before(before) || now.Sub(before) > time.Minute {
		t.Fatalf("Now %v, real %v", now, before)
	}
	ran := false
	c.AfterFunc(time.Hour, func() { ran = true })
	time.Sleep(10 * time.Millisecond)
	if ran {
		t.Fatal("ran without Advance")
	}
	c.Advance(time.Hour)
	if !ran {
		t.Error("not run after Advance(1h)")
	}
	if d := time.Until(c.Now()); d < time.Hour-time.Second || d > time.Hour {
		t.Errorf("clock is %v ahead of the real time, want 1h", d)
	}
}
