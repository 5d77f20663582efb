// Package scheduler runs pollers on their schedules from one due-time heap:
// no goroutine or timer per poller, starts spread over each interval by a
// hash of the poller's identity, and never two runs of one poller at once.
//
// robfig/cron's own runner is not used on purpose: it re-sorts every entry
// at each wake-up and aligns schedules to whole seconds, so 100,000 pollers
// would start in per-second bursts. Cron expressions are still parsed by
// robfig/cron and asked for Schedule.Next.
package scheduler

import (
	"container/heap"
	"context"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/clock"
)

// Key names a poller.
type Key struct {
	Instance int64
	Resource string
}

func (k Key) String() string { return strconv.FormatInt(k.Instance, 10) + "/" + k.Resource }

// RunFunc runs one poll. due is when it was scheduled (for lag metrics).
type RunFunc func(ctx context.Context, key Key, due time.Time)

// Observer receives scheduling facts for metrics; all methods optional.
type Observer interface {
	Started(key Key, due, started time.Time)
	Skipped(key Key)
}

// Config configures a Scheduler.
type Config struct {
	Clock clock.Clock
	Run   RunFunc
	// MaxConcurrent bounds polls in flight; due polls beyond it wait (their
	// lag shows in the metrics). Default 256.
	MaxConcurrent int
	Observer      Observer
}

// Info is a poller's schedule as the admin API shows it.
type Info struct {
	Next    time.Time
	Running bool
	Skips   int64
}

type entry struct {
	key     Key
	sched   instances.Schedule
	offset  time.Duration
	next    time.Time
	index   int // in the heap; -1 when not queued
	running bool
	skips   int64
	removed bool
	now     bool // a manual trigger is waiting for the current run to end
}

// Scheduler dispatches due pollers.
type Scheduler struct {
	cfg     Config
	mu      sync.Mutex
	entries map[Key]*entry
	// byInst holds each instance's entries, so that the per-instance
	// calls (Keys, RemoveInstance) do not scan every poller: engine.Start
	// applies every instance, which would otherwise be quadratic.
	byInst  map[int64][]*entry
	queue   dueHeap
	wake    chan struct{}
	sem     chan struct{}
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	stopped chan struct{}
}

// New returns a scheduler; Start begins dispatching.
func New(cfg Config) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 256
	}
	return &Scheduler{
		cfg:     cfg,
		entries: map[Key]*entry{},
		byInst:  map[int64][]*entry{},
		wake:    make(chan struct{}, 1),
		sem:     make(chan struct{}, cfg.MaxConcurrent),
	}
}

// Offset is a poller's stable start offset inside an interval, derived from
// its identity so that pollers sharing an interval spread out evenly.
func Offset(key Key, every time.Duration) time.Duration {
	if every <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key.String()))
	return time.Duration(h.Sum64() % uint64(every))
}

// nextAfter is the first scheduled time strictly after t.
func (e *entry) nextAfter(t time.Time) time.Time {
	if e.sched.Cron != nil {
		return e.sched.Cron.Next(t)
	}
	every := e.sched.Every
	// Slots are offset + n*every since the Unix epoch.
	n := t.UnixNano() - int64(e.offset)
	slot := n - mod(n, int64(every)) + int64(every)
	return time.Unix(0, slot+int64(e.offset))
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// Set adds a poller or changes its schedule. It takes effect at once.
func (s *Scheduler) Set(key Key, sched instances.Schedule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		e = &entry{key: key, index: -1}
		s.entries[key] = e
		s.byInst[key.Instance] = append(s.byInst[key.Instance], e)
	} else if e.sched.Text == sched.Text && e.sched.Every == sched.Every {
		return // unchanged: keep its place
	}
	e.sched = sched
	e.offset = Offset(key, sched.Every)
	e.next = e.nextAfter(s.cfg.Clock.Now())
	s.push(e)
}

// Remove stops scheduling a poller. A run in flight finishes.
func (s *Scheduler) Remove(key Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok {
		s.drop(e)
	}
}

// RemoveInstance removes every poller of an instance.
func (s *Scheduler) RemoveInstance(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range slices.Clone(s.byInst[id]) {
		s.drop(e)
	}
}

// Keys returns the scheduled pollers of an instance.
func (s *Scheduler) Keys(id int64) []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	es := s.byInst[id]
	if len(es) == 0 {
		return nil
	}
	out := make([]Key, len(es))
	for i, e := range es {
		out[i] = e.key
	}
	return out
}

func (s *Scheduler) drop(e *entry) {
	e.removed = true
	if e.index >= 0 {
		heap.Remove(&s.queue, e.index)
	}
	delete(s.entries, e.key)
	es := slices.DeleteFunc(s.byInst[e.key.Instance], func(x *entry) bool { return x == e })
	if len(es) == 0 {
		delete(s.byInst, e.key.Instance)
	} else {
		s.byInst[e.key.Instance] = es
	}
}

// Trigger runs a poller now (outside its schedule). It reports false when
// the poller is unknown; a poller already running runs again right after.
func (s *Scheduler) Trigger(key Key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return false
	}
	if e.running {
		e.now = true
		return true
	}
	e.next = s.cfg.Clock.Now()
	s.push(e)
	return true
}

// Info reports a poller's schedule.
func (s *Scheduler) Info(key Key) (Info, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return Info{}, false
	}
	return Info{Next: e.next, Running: e.running, Skips: e.skips}, true
}

// Len is the number of scheduled pollers.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *Scheduler) push(e *entry) {
	if e.index >= 0 {
		heap.Fix(&s.queue, e.index)
	} else {
		heap.Push(&s.queue, e)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Start begins dispatching until Stop.
func (s *Scheduler) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.stopped = make(chan struct{})
	go s.loop(ctx)
}

// Stop stops dispatching and waits for runs in flight (their ctx is
// cancelled). Safe to call without Start.
func (s *Scheduler) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.stopped
	s.wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.stopped)
	timer := s.cfg.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := s.cfg.Clock.Now()
		for len(s.queue) > 0 && !s.queue[0].next.After(now) {
			e := s.queue[0]
			if e.running {
				// The previous run is still going: this tick is skipped, and
				// the poller waits for its next slot.
				e.skips++
				if s.cfg.Observer != nil {
					s.cfg.Observer.Skipped(e.key)
				}
				e.next = e.nextAfter(now)
				heap.Fix(&s.queue, 0)
				continue
			}
			e.running = true
			dueAt := e.next
			e.next = e.nextAfter(now)
			heap.Fix(&s.queue, 0)
			s.launch(ctx, e, dueAt)
		}
		wait := time.Hour
		if len(s.queue) > 0 {
			wait = s.queue[0].next.Sub(now)
		}
		s.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		case <-s.wake:
			if !timer.Stop() {
				select {
				case <-timer.C():
				default:
				}
			}
		}
	}
}

// launch starts a run; called with s.mu held.
func (s *Scheduler) launch(ctx context.Context, e *entry, due time.Time) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			s.finish(e)
			return
		}
		if s.cfg.Observer != nil {
			s.cfg.Observer.Started(e.key, due, s.cfg.Clock.Now())
		}
		s.cfg.Run(ctx, e.key, due)
		<-s.sem
		s.finish(e)
	}()
}

func (s *Scheduler) finish(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.running = false
	if e.now && !e.removed {
		e.now = false
		e.next = s.cfg.Clock.Now()
		s.push(e)
	}
}

type dueHeap []*entry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].next.Equal(h[j].next) {
		a, b := h[i].key, h[j].key
		if a.Instance != b.Instance {
			return a.Instance < b.Instance
		}
		return a.Resource < b.Resource
	}
	return h[i].next.Before(h[j].next)
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
