package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	a := f.NewTimer(2 * time.Minute)
	b := f.NewTimer(time.Minute)
	f.Advance(90 * time.Second)
	select {
	case got := <-b.C():
		if !got.Equal(start.Add(time.Minute)) {
			t.Fatalf("b fired at %v", got)
		}
	default:
		t.Fatal("b did not fire")
	}
	select {
	case <-a.C():
		t.Fatal("a fired early")
	default:
	}
	if !f.Now().Equal(start.Add(90 * time.Second)) {
		t.Fatalf("now = %v", f.Now())
	}
	if a.Reset(time.Second) != true {
		t.Fatal("a should have been active")
	}
	f.Advance(time.Second)
	if got := <-a.C(); !got.Equal(start.Add(91 * time.Second)) {
		t.Fatalf("a fired at %v", got)
	}
	if a.Stop() {
		t.Fatal("fired timer reported active")
	}
}

func TestFakeStopAndWait(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	done := make(chan bool)
	go func() { done <- f.WaitTimers(1, 5*time.Second) }()
	tm := f.NewTimer(time.Hour)
	if !<-done {
		t.Fatal("WaitTimers did not see the timer")
	}
	if !tm.Stop() {
		t.Fatal("Stop of armed timer returned false")
	}
	f.Advance(2 * time.Hour)
	select {
	case <-tm.C():
		t.Fatal("stopped timer fired")
	default:
	}
	if f.Timers() != 0 {
		t.Fatalf("timers = %d", f.Timers())
	}
}
