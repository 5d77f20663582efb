// Package clock gives the runtime its notion of time. Schedules, retries and
// retention take a Clock so tests can move time forward in milliseconds
// instead of sleeping through real minutes.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the runtime uses.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was active.
	Stop() bool
	// Reset makes the timer fire after d; it reports whether it was active.
	Reset(d time.Duration) bool
}

// Real returns the wall clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                 { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Fake is a manual clock for tests: time moves only when Advance or Set is
// called, and timers due by then fire in order of their due time.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced whenever a timer is created or reset
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer driven by Advance.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	f.armLocked(t, d)
	return t
}

// Advance moves the clock forward by d, firing every timer due on the way.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	f.Set(target)
}

// Set moves the clock to t (never backwards), firing due timers in order.
func (f *Fake) Set(t time.Time) {
	for {
		f.mu.Lock()
		sort.Slice(f.timers, func(i, j int) bool { return f.timers[i].due.Before(f.timers[j].due) })
		if len(f.timers) == 0 || f.timers[0].due.After(t) {
			if t.After(f.now) {
				f.now = t
			}
			f.mu.Unlock()
			return
		}
		next := f.timers[0]
		f.timers = f.timers[1:]
		next.active = false
		if next.due.After(f.now) {
			f.now = next.due
		}
		now := f.now
		f.mu.Unlock()
		select {
		case next.c <- now:
		default:
		}
	}
}

// Timers reports how many timers are armed; tests use it to wait until the
// code under test is parked on the clock.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// WaitTimers blocks until at least n timers are armed or the deadline (real
// time) passes, and reports whether the count was reached.
func (f *Fake) WaitTimers(n int, deadline time.Duration) bool {
	return f.waitFor(func() bool { return len(f.timers) >= n }, deadline)
}

// WaitArmed blocks until a timer is armed to fire exactly at due, or the
// deadline (real time) passes; it reports whether it saw one. Tests use it
// to know that the code under test has planned its next wake-up.
func (f *Fake) WaitArmed(due time.Time, deadline time.Duration) bool {
	return f.waitFor(func() bool {
		for _, t := range f.timers {
			if t.due.Equal(due) {
				return true
			}
		}
		return false
	}, deadline)
}

// waitFor re-checks cond (called with f.mu held) whenever timers change.
func (f *Fake) waitFor(cond func() bool, deadline time.Duration) bool {
	timeout := time.After(deadline)
	for {
		f.mu.Lock()
		ok := cond()
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timeout:
			return false
		}
	}
}

func (f *Fake) armLocked(t *fakeTimer, d time.Duration) {
	t.due = f.now.Add(d)
	if d <= 0 {
		// Due already: fire now, as a real timer would.
		if t.active {
			f.removeLocked(t)
		}
		select {
		case t.c <- f.now:
		default:
		}
		close(f.changed)
		f.changed = make(chan struct{})
		return
	}
	if !t.active {
		t.active = true
		f.timers = append(f.timers, t)
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Fake) removeLocked(t *fakeTimer) bool {
	if !t.active {
		return false
	}
	t.active = false
	for i, x := range f.timers {
		if x == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			break
		}
	}
	return true
}

type fakeTimer struct {
	f      *Fake
	c      chan time.Time
	due    time.Time
	active bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.f.removeLocked(t)
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.active
	t.f.armLocked(t, d)
	return was
}
