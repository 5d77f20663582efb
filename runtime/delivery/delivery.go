// Package delivery posts notifications from the outbox to their callback
// URLs: signed, retried by the instance's retry settings, every attempt
// recorded in the store before the next is scheduled, and one queue per URL
// so that a slow, hanging or failing consumer never delays another.
//
// Nothing runs for a URL without due work: queues live in one due-time heap
// watched by a single timer, and a URL gets worker goroutines (up to
// PerURLConcurrency) only while it has deliveries due or in flight.
package delivery

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pollwire/pollwire/runtime/clock"
)

// Status is where a delivery stands.
type Status string

// Statuses of a delivery.
const (
	Pending   Status = "pending"   // attempts remain
	Delivered Status = "delivered" // a 2xx answer accepted it
	Failed    Status = "failed"    // the last retry failed; kept for redelivery
)

// Delivery is one notification on its way to a callback URL.
type Delivery struct {
	Seq         uint64 // the outbox key, unique
	InstanceID  int64
	EventID     string        // message.eventId; sent as Elements-Webhook-Id / webhook-id
	URL         string        // the callback URL
	Body        []byte        // exact bytes POSTed, identical on every attempt; may be nil in memory (then loaded via Store.LoadBody)
	Attempts    int           // attempts made so far
	MaxRetries  int           // retries after the first attempt (instance's retry.count)
	Interval    time.Duration // time between attempts (instance's retry.interval)
	NextAttempt time.Time     // when the next attempt is due; zero once Delivered or Failed
	Status      Status
	LastStatus  int // HTTP status of the last attempt, 0 if none / transport error
	LastError   string
	CreatedAt   time.Time
	DeliveredAt time.Time
}

// Store is the part of the outbox the dispatcher needs. The lead implements
// it on bbolt.
type Store interface {
	// PendingDeliveries returns every Pending delivery; Body may be nil.
	PendingDeliveries(ctx context.Context) ([]Delivery, error)
	// LoadBody returns the body of a delivery (an error wrapping ErrGone
	// when it no longer exists).
	LoadBody(ctx context.Context, seq uint64) ([]byte, error)
	// SaveAttempt persists Attempts, Status, NextAttempt, LastStatus,
	// LastError and DeliveredAt of d.Seq. A delivery whose instance was
	// deleted returns an error wrapping ErrGone: the dispatcher drops it.
	SaveAttempt(ctx context.Context, d *Delivery) error
}

// KeyFunc returns the signature key configured for an instance now ("" when
// none). It is asked at every attempt, so a changed key applies to retries.
type KeyFunc func(instanceID int64) string

// Defaults of Config and of deliveries that lack retry settings.
const (
	DefaultTimeout           = 30 * time.Second
	DefaultPerURLConcurrency = 8
	DefaultMaxRetryAfter     = 24 * time.Hour
	// DefaultInterval applies to a delivery enqueued with no Interval, so
	// that a missing setting can never retry in a tight loop.
	DefaultInterval = 5 * time.Minute
)

// Store errors are retried after a backoff that doubles within these bounds.
const (
	minStoreBackoff = time.Second
	maxStoreBackoff = time.Minute
)

// Config configures a Dispatcher.
type Config struct {
	Store  Store
	Keys   KeyFunc      // nil: nothing is signed
	Clock  clock.Clock  // default clock.Real()
	Logger *slog.Logger // default: discard
	// Client posts the notifications; default NewClient(false).
	Client *http.Client
	// Timeout bounds one attempt, answer included; default 30s.
	Timeout time.Duration
	// PerURLConcurrency bounds the requests in flight per callback URL;
	// default 8.
	PerURLConcurrency int
	// MaxRetryAfter caps a honoured Retry-After; default 24h.
	MaxRetryAfter time.Duration
	// Registerer, when set, receives the dispatcher's metrics. New panics
	// if they are registered there already, like MustRegister.
	Registerer prometheus.Registerer
}

type state int

const (
	stateIdle state = iota
	stateStarting
	stateRunning
	stateStopped
)

// Dispatcher delivers notifications. Create it with New.
type Dispatcher struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	kick chan struct{} // wakes run when work may have become due
	wg   sync.WaitGroup

	mu     sync.Mutex
	state  state
	ctx    context.Context // lives from Start to Stop
	cancel context.CancelFunc
	queues map[string]*urlQueue // by callback URL; only URLs with work
	ready  readyHeap
	items  map[uint64]*item // every delivery held, queued or in flight
	depth  map[string]int   // items per callback host
}

// New returns a dispatcher with cfg's defaults filled in. It starts nothing.
func New(cfg Config) *Dispatcher {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(false)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PerURLConcurrency <= 0 {
		cfg.PerURLConcurrency = DefaultPerURLConcurrency
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	d := &Dispatcher{
		cfg:    cfg,
		log:    cfg.Logger,
		kick:   make(chan struct{}, 1),
		queues: make(map[string]*urlQueue),
		items:  make(map[uint64]*item),
		depth:  make(map[string]int),
	}
	d.m = newMetrics(d, cfg.Registerer)
	return d
}

// Start loads the pending deliveries from the store and begins delivering
// them and anything enqueued, each at its NextAttempt: attempt counts and
// next-attempt times survive restarts. ctx bounds the loading only; the
// work goes on until Stop. A Start that failed to load may be tried again.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	switch d.state {
	case stateStopped:
		d.mu.Unlock()
		return ErrStopped
	case stateStarting, stateRunning:
		d.mu.Unlock()
		return ErrStarted
	}
	d.state = stateStarting
	if d.ctx == nil {
		d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	runCtx := d.ctx
	d.mu.Unlock()

	// A Stop during the load cancels it rather than waiting for it.
	loadCtx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	defer context.AfterFunc(runCtx, cancelLoad)()
	pending, err := d.cfg.Store.PendingDeliveries(loadCtx)

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == stateStopped {
		return ErrStopped
	}
	if err != nil {
		d.state = stateIdle
		return fmt.Errorf("delivery: load pending deliveries: %w", err)
	}
	for i := range pending {
		d.addLocked(pending[i])
	}
	d.state = stateRunning
	d.wg.Add(1)
	go d.run()
	d.log.Info("delivery started", "pending", len(pending))
	return nil
}

// Enqueue hands new or redelivered deliveries to the dispatcher; each is
// attempted at its NextAttempt (at once when that is zero or past). It never
// blocks on delivery work. A Seq the dispatcher already holds is ignored, so
// a delivery both loaded by Start and enqueued is sent once. For a
// redelivery the store must have been reset (Pending, Attempts 0) before.
// Enqueue after Stop does nothing: the outbox still has the delivery.
// The dispatcher keeps Body without copying it.
func (d *Dispatcher) Enqueue(ds ...Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == stateStopped {
		return
	}
	for i := range ds {
		d.addLocked(ds[i])
	}
	d.wake()
}

// Forget drops every delivery of an instance (it was deleted): queued ones
// are removed, attempts in flight are cancelled and not recorded.
func (d *Dispatcher) Forget(instanceID int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, it := range d.items {
		if it.d.InstanceID == instanceID {
			if it.cancel != nil {
				it.cancel()
			}
			d.dropLocked(it)
			n++
		}
	}
	if n > 0 {
		d.log.Info("deliveries of deleted instance dropped", "instance", instanceID, "count", n)
	}
}

// Stop stops delivering and waits for attempts in flight to end. They are
// cancelled: an attempt without an answer yet is abandoned and not
// recorded, so it is made again after a restart; one that had its answer is
// still recorded. Stop is safe before Start, after a failed Start and more
// than once.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	d.state = stateStopped
	cancel := d.cancel
	d.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	d.wg.Wait()
}

// Depth returns how many deliveries wait per callback host (host[:port] of
// the URL), queued or in flight; hosts with none are absent.
func (d *Dispatcher) Depth() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.depth))
	for h, n := range d.depth {
		out[h] = n
	}
	return out
}

// addLocked queues a delivery unless it is held already or not pending.
func (d *Dispatcher) addLocked(x Delivery) {
	if x.Status == "" {
		x.Status = Pending
	}
	if x.Status != Pending {
		d.log.Warn("delivery not pending, not queued", "seq", x.Seq, "status", x.Status)
		return
	}
	if _, ok := d.items[x.Seq]; ok {
		return
	}
	if x.MaxRetries < 0 {
		x.MaxRetries = 0
	}
	if x.Interval <= 0 {
		x.Interval = DefaultInterval
	}
	q := d.queues[x.URL]
	if q == nil {
		q = &urlQueue{url: x.URL, ready: -1}
		d.queues[x.URL] = q
	}
	// Only a delivery about to be sent keeps its body: a URL that is down
	// can collect a large backlog, and the store has every body anyway.
	if len(q.items)+q.active >= d.cfg.PerURLConcurrency || x.NextAttempt.After(d.cfg.Clock.Now()) {
		x.Body = nil
	}
	it := &item{d: x, host: hostOf(x.URL), q: q, due: x.NextAttempt, index: -1}
	heap.Push(&q.items, it)
	d.items[x.Seq] = it
	d.depth[it.host]++
	d.reindexLocked(q)
}

// reindexLocked puts q where it belongs after its items or workers changed:
// in the ready heap when it has items and a free worker slot, out of the
// dispatcher altogether when it has neither items nor workers.
func (d *Dispatcher) reindexLocked(q *urlQueue) {
	want := len(q.items) > 0 && q.active < d.cfg.PerURLConcurrency
	switch {
	case want && q.ready < 0:
		heap.Push(&d.ready, q)
	case want:
		heap.Fix(&d.ready, q.ready)
	case q.ready >= 0:
		heap.Remove(&d.ready, q.ready)
	}
	if len(q.items) == 0 && q.active == 0 && d.queues[q.url] == q {
		delete(d.queues, q.url)
	}
}

// requeueLocked schedules more work on an item at due.
func (d *Dispatcher) requeueLocked(it *item, due time.Time) {
	if it.dropped {
		return
	}
	it.due = due
	heap.Push(&it.q.items, it)
	d.reindexLocked(it.q)
	d.wake()
}

// dropLocked forgets an item for good: finished, gone or forgotten.
func (d *Dispatcher) dropLocked(it *item) {
	if it.dropped {
		return
	}
	it.dropped = true
	if it.index >= 0 {
		heap.Remove(&it.q.items, it.index)
		d.reindexLocked(it.q)
	}
	if d.items[it.d.Seq] == it {
		delete(d.items, it.d.Seq)
	}
	if d.depth[it.host]--; d.depth[it.host] <= 0 {
		delete(d.depth, it.host)
	}
}

func (d *Dispatcher) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// run starts workers for queues whose first item is due, and sleeps on one
// timer until the next one is.
func (d *Dispatcher) run() {
	defer d.wg.Done()
	var timer clock.Timer // made on first need: an idle dispatcher arms none
	var tick <-chan time.Time
	for {
		// Stopped before looking at the queues, so that a tick dropped
		// here is one the look below accounts for.
		if timer != nil {
			stopTimer(timer)
		}
		d.mu.Lock()
		next, ok := d.dispatchLocked()
		d.mu.Unlock()
		if ok {
			if wait := next.Sub(d.cfg.Clock.Now()); timer == nil {
				timer = d.cfg.Clock.NewTimer(wait)
				tick = timer.C()
			} else {
				timer.Reset(wait)
			}
			// Time may have passed next between reading the clock and
			// arming the timer, which would then fire late: look again.
			if !d.cfg.Clock.Now().Before(next) {
				continue
			}
		}
		select {
		case <-d.ctx.Done():
			if timer != nil {
				stopTimer(timer)
			}
			return
		case <-d.kick:
		case <-tick:
		}
	}
}

// dispatchLocked starts a worker for every due item of a queue with a free
// slot, and returns when the next item is due, if any is.
func (d *Dispatcher) dispatchLocked() (time.Time, bool) {
	if d.state != stateRunning || d.ctx.Err() != nil {
		return time.Time{}, false
	}
	now := d.cfg.Clock.Now()
	for len(d.ready) > 0 {
		q := d.ready[0]
		it := q.head()
		if it.due.After(now) {
			return it.due, true
		}
		heap.Pop(&q.items)
		q.active++
		d.reindexLocked(q)
		d.wg.Add(1)
		go d.work(q, it)
	}
	return time.Time{}, false
}

// work processes it, then the queue's next due items while there are any,
// so a busy URL keeps its workers instead of starting one per delivery.
func (d *Dispatcher) work(q *urlQueue, it *item) {
	defer d.wg.Done()
	for {
		if it.unsaved {
			d.save(it)
		} else {
			d.attempt(it)
		}
		d.mu.Lock()
		if next := q.head(); next != nil && d.ctx.Err() == nil && !next.due.After(d.cfg.Clock.Now()) {
			heap.Pop(&q.items)
			d.reindexLocked(q)
			d.mu.Unlock()
			it = next
			continue
		}
		q.active--
		d.reindexLocked(q)
		d.mu.Unlock()
		d.wake()
		return
	}
}

// attempt posts an item once and records the outcome.
func (d *Dispatcher) attempt(it *item) {
	d.mu.Lock()
	if it.dropped {
		d.mu.Unlock()
		return
	}
	// Forget cancels the attempt through it.cancel; Stop through d.ctx.
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	it.cancel = cancel
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		it.cancel = nil
		d.mu.Unlock()
	}()

	body := it.d.Body
	if body == nil {
		b, err := d.cfg.Store.LoadBody(ctx, it.d.Seq)
		switch {
		case ctx.Err() != nil:
			return // stopping or forgotten
		case errors.Is(err, ErrGone):
			d.mu.Lock()
			d.dropLocked(it)
			d.mu.Unlock()
			d.log.Info("delivery gone from the outbox, dropped", "seq", it.d.Seq, "instance", it.d.InstanceID)
			return
		case err != nil:
			d.log.Error("cannot load delivery body, will retry", "seq", it.d.Seq, "instance", it.d.InstanceID, "err", err)
			d.retryStoreLater(it)
			return
		}
		body = b
	}
	var key string
	if d.cfg.Keys != nil {
		key = d.cfg.Keys(it.d.InstanceID)
	}
	start := d.cfg.Clock.Now()
	res := d.post(ctx, &it.d, body, key, start)
	if res.abandoned {
		return
	}
	end := d.cfg.Clock.Now()
	d.m.attempts.WithLabelValues(res.outcome).Inc()
	d.m.duration.Observe(end.Sub(start).Seconds())

	x := &it.d
	x.Attempts++
	x.LastStatus, x.LastError = res.status, res.errText
	x.NextAttempt = time.Time{}
	// Bodies of deliveries that wait for a retry are reloaded when due.
	x.Body = nil
	log := d.log.With("seq", x.Seq, "instance", x.InstanceID, "event", x.EventID, "host", it.host,
		"attempt", x.Attempts, "of", x.MaxRetries+1)
	switch {
	case res.outcome == outcomeSuccess:
		x.Status, x.DeliveredAt = Delivered, end
		log.Debug("delivered", "status", res.status)
	case x.Attempts <= x.MaxRetries:
		wait := x.Interval
		if res.retryAfter > wait {
			wait = max(min(res.retryAfter, d.cfg.MaxRetryAfter), x.Interval)
		}
		x.NextAttempt = end.Add(wait)
		log.Info("delivery attempt failed, will retry", "status", res.status, "err", res.errText, "next", x.NextAttempt)
	default:
		x.Status = Failed
		log.Warn("delivery failed after its last attempt", "status", res.status, "err", res.errText)
	}
	it.unsaved = true
	d.save(it)
}

// save records the outcome held in it.d, then schedules what comes next:
// the next attempt, nothing (final), or another save after a store error.
func (d *Dispatcher) save(it *item) {
	d.mu.Lock()
	dropped := it.dropped
	d.mu.Unlock()
	if dropped {
		return
	}
	snap := it.d
	snap.Body = nil
	// Once an attempt had its answer, recording it is worth finishing
	// even while stopping: otherwise the consumer would get it again.
	err := d.cfg.Store.SaveAttempt(context.WithoutCancel(d.ctx), &snap)

	d.mu.Lock()
	defer d.mu.Unlock()
	if it.dropped {
		return
	}
	switch {
	case errors.Is(err, ErrGone):
		d.dropLocked(it)
		d.log.Info("delivery gone from the outbox, dropped", "seq", it.d.Seq, "instance", it.d.InstanceID)
	case err != nil:
		d.log.Error("cannot record delivery attempt, will retry", "seq", it.d.Seq, "instance", it.d.InstanceID, "err", err)
		d.backoffLocked(it)
	default:
		it.unsaved, it.storeBackoff = false, 0
		if it.d.Status == Pending {
			d.requeueLocked(it, it.d.NextAttempt)
			return
		}
		d.m.deliveries.WithLabelValues(string(it.d.Status)).Inc()
		d.dropLocked(it)
	}
}

// retryStoreLater puts an item back after a store error, to try again once
// the store may have recovered; it is never given up.
func (d *Dispatcher) retryStoreLater(it *item) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.backoffLocked(it)
}

func (d *Dispatcher) backoffLocked(it *item) {
	it.storeBackoff = min(max(2*it.storeBackoff, minStoreBackoff), maxStoreBackoff)
	d.requeueLocked(it, d.cfg.Clock.Now().Add(it.storeBackoff))
}

// stopTimer stops t and empties its channel, so a stale tick never wakes
// the next wait.
func stopTimer(t clock.Timer) {
	t.Stop()
	select {
	case <-t.C():
	default:
	}
}

// hostOf names the host of a callback URL for Depth.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "invalid"
	}
	return u.Host
}
