package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/clock"
)

type run struct {
	key        Key
	due, start time.Time
}

type recorder struct {
	mu    sync.Mutex
	runs  []run
	c     chan run
	block chan struct{} // when non-nil, runs wait on it
	clk   clock.Clock
}

func (r *recorder) run(ctx context.Context, key Key, due time.Time) {
	rn := run{key: key, due: due, start: r.clk.Now()}
	r.mu.Lock()
	r.runs = append(r.runs, rn)
	r.mu.Unlock()
	r.c <- rn
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
		}
	}
}

func every(d time.Duration) instances.Schedule {
	return instances.Schedule{Every: d, Text: d.String()}
}

func newSched(t *testing.T, start time.Time) (*Scheduler, *clock.Fake, *recorder) {
	t.Helper()
	clk := clock.NewFake(start)
	rec := &recorder{c: make(chan run, 100), clk: clk}
	s := New(Config{Clock: clk, Run: rec.run})
	s.Start(context.Background())
	t.Cleanup(func() {
		s.Stop()
	})
	return s, clk, rec
}

func waitRun(t *testing.T, rec *recorder) run {
	t.Helper()
	select {
	case r := <-rec.c:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no run")
		return run{}
	}
}

func noRun(t *testing.T, rec *recorder) {
	t.Helper()
	select {
	case r := <-rec.c:
		t.Fatalf("unexpected run %+v", r)
	case <-time.After(20 * time.Millisecond):
	}
}

// waitIdle waits (real time, bounded) until no run is in flight, so the next
// due time is not counted as an overlap.
func waitIdle(t *testing.T, s *Scheduler) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		s.mu.Lock()
		busy := 0
		for _, e := range s.entries {
			if e.running {
				busy++
			}
		}
		s.mu.Unlock()
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("runs did not finish")
		}
		time.Sleep(time.Millisecond)
	}
}

// advance moves the fake clock to the next wake-up the scheduler must have
// planned (want), then by the rest of d.
func advanceTo(t *testing.T, clk *clock.Fake, want time.Time) {
	t.Helper()
	if !clk.WaitArmed(want, 5*time.Second) {
		t.Fatalf("scheduler did not plan a wake-up at %v", want)
	}
	clk.Set(want)
}

func TestRunsAtOffsetEveryInterval(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, clk, rec := newSched(t, start)
	key := Key{Instance: 7, Resource: "contacts"}
	s.Set(key, every(time.Minute))
	off := Offset(key, time.Minute)
	first := start.Add(off)
	if !first.After(start) {
		first = first.Add(time.Minute)
	}
	advanceTo(t, clk, first)
	r := waitRun(t, rec)
	if !r.due.Equal(first) || !r.start.Equal(first) {
		t.Fatalf("first run due %v start %v, want %v", r.due, r.start, first)
	}
	for i := 1; i <= 3; i++ {
		waitIdle(t, s)
		advanceTo(t, clk, first.Add(time.Duration(i)*time.Minute))
		r = waitRun(t, rec)
		if want := first.Add(time.Duration(i) * time.Minute); !r.due.Equal(want) {
			t.Fatalf("run %d due %v, want %v", i, r.due, want)
		}
	}
}

func TestOffsetsSpreadAndStable(t *testing.T) {
	const n = 10000
	buckets := make([]int, 60)
	for i := 0; i < n; i++ {
		k := Key{Instance: int64(i), Resource: "contacts"}
		off := Offset(k, time.Minute)
		if off != Offset(k, time.Minute) {
			t.Fatal("offset not stable")
		}
		if off < 0 || off >= time.Minute {
			t.Fatalf("offset %v out of range", off)
		}
		buckets[off/time.Second]++
	}
	for sec, c := range buckets {
		// Uniform would be ~167 per second; a hash that clusters fails this.
		if c < 100 || c > 250 {
			t.Fatalf("second %d has %d pollers; offsets are not spread", sec, c)
		}
	}
}

func TestOverlapIsSkippedNotConcurrent(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, clk, rec := newSched(t, start)
	rec.block = make(chan struct{})
	key := Key{Instance: 1, Resource: "deals"}
	s.Set(key, every(10*time.Second))
	first := start.Add(Offset(key, 10*time.Second))
	if !first.After(start) {
		first = first.Add(10 * time.Second)
	}
	advanceTo(t, clk, first)
	waitRun(t, rec)
	// The run hangs through three more due times.
	for i := 1; i <= 3; i++ {
		advanceTo(t, clk, first.Add(time.Duration(i)*10*time.Second))
	}
	if !clk.WaitArmed(first.Add(40*time.Second), 5*time.Second) {
		t.Fatal("scheduler did not move past the skipped slots")
	}
	noRun(t, rec)
	info, _ := s.Info(key)
	if !info.Running || info.Skips != 3 {
		t.Fatalf("info = %+v, want running with 3 skips", info)
	}
	close(rec.block)
	waitIdle(t, s)
	advanceTo(t, clk, first.Add(40*time.Second))
	waitRun(t, rec)
}

func TestSetRemoveTriggerTakeEffectAtOnce(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, clk, rec := newSched(t, start)
	a := Key{Instance: 1, Resource: "a"}
	s.Set(a, every(time.Hour))
	if !s.Trigger(a) {
		t.Fatal("trigger of known poller failed")
	}
	r := waitRun(t, rec)
	if r.key != a || !r.start.Equal(start) {
		t.Fatalf("triggered run %+v", r)
	}
	if s.Trigger(Key{Instance: 9, Resource: "x"}) {
		t.Fatal("trigger of unknown poller succeeded")
	}
	// Shortening the interval applies without waiting for the old slot.
	s.Set(a, every(time.Second))
	next := start.Add(Offset(a, time.Second))
	if !next.After(start) {
		next = next.Add(time.Second)
	}
	waitIdle(t, s)
	advanceTo(t, clk, next)
	waitRun(t, rec)
	s.RemoveInstance(1)
	if s.Len() != 0 {
		t.Fatalf("len = %d after remove", s.Len())
	}
	clk.Advance(time.Hour)
	noRun(t, rec)
}

func TestCronSchedule(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	s, clk, rec := newSched(t, start)
	sched, msg := instances.ParseSchedule("cron:*/5 * * * *")
	if msg != "" {
		t.Fatal(msg)
	}
	s.Set(Key{Instance: 1, Resource: "c"}, sched)
	advanceTo(t, clk, time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC))
	r := waitRun(t, rec)
	if want := time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC); !r.due.Equal(want) {
		t.Fatalf("cron run due %v, want %v", r.due, want)
	}
}
