// Package engine turns instances into polls and polls into durable events:
// it schedules every (instance, resource) poller, asks the connector's
// Source for the window's records, decides which are changes, and commits
// the events together with the new watermark before handing them to
// delivery.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/scheduler"
	"github.com/pollwire/pollwire/runtime/store"
)

// Outbox is where committed notifications go next: the delivery dispatcher.
type Outbox interface {
	Enqueue(ds ...delivery.Delivery)
	Forget(instanceID int64)
}

// Config wires an Engine.
type Config struct {
	Store   store.Store
	Catalog connectors.Catalog
	// Sources are the connectors that can poll, by connector key.
	Sources map[string]source.Source
	Outbox  Outbox
	Clock   clock.Clock
	Logger  *slog.Logger
	// VendorClient makes vendor calls; default: 60 s timeout per request.
	VendorClient *http.Client
	// PollTimeout bounds one poll, all pages included. Default 5 min.
	PollTimeout time.Duration
	// MaxConcurrent bounds polls in flight. Default 256.
	MaxConcurrent int
	// ServerLocation is the zone of ${date:…}. Default time.Local.
	ServerLocation *time.Location
	// FlushInterval is how often states of polls that found nothing are
	// persisted (they need no fsync of their own: see flush). Default 10 s.
	FlushInterval time.Duration
	// Retention is how long delivered notifications stay in the event log.
	// Default 7 days.
	Retention  time.Duration
	Registerer prometheus.Registerer
	// Subscribers are the connectors that register pollwire's webhook with
	// the vendor themselves, by key.
	Subscribers map[string]source.Subscriber
	// PublicURL is where vendors reach pollwire (scheme://host[:port]); the
	// intake URL of each instance is built on it. Empty disables automatic
	// subscriptions.
	PublicURL string
}

// Engine runs the pollers of every enabled instance.
type Engine struct {
	cfg     Config
	sched   *scheduler.Scheduler
	metrics *metrics

	mu        sync.RWMutex
	instances map[int64]*instanceRT
	pauses    map[int64]pause
	// hooks hold the seen ids of resources that are pushed but not polled.
	hooks   map[scheduler.Key]*pollerRT
	bg      context.Context // lives from Start to Stop, for background work
	pollers map[scheduler.Key]*pollerRT

	cancel  context.CancelFunc
	stopped chan struct{}
}

// instanceRT is immutable once published in Engine.instances: a change
// replaces it, so polls in flight keep a consistent view.
type instanceRT struct {
	inst     *instances.Instance
	settings *instances.Settings
}

// pause holds every poller of an instance back while the vendor's quota is
// spent.
type pause struct {
	until  time.Time
	reason string
}

type pollerRT struct {
	class string // the connector key, for per-class metrics
	// commitMu serialises deciding and committing changes of this resource
	// between its poll and webhook intake.
	commitMu sync.Mutex
	mu       sync.Mutex
	state    store.PollerState
	dirty    bool // state changed since it was last persisted
}

// New builds an engine; Start loads the instances and begins polling.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.VendorClient == nil {
		cfg.VendorClient = NewVendorClient()
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 5 * time.Minute
	}
	if cfg.ServerLocation == nil {
		cfg.ServerLocation = time.Local
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 10 * time.Second
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	e := &Engine{cfg: cfg, instances: map[int64]*instanceRT{}, pauses: map[int64]pause{}, hooks: map[scheduler.Key]*pollerRT{}, pollers: map[scheduler.Key]*pollerRT{}}
	e.metrics = newMetrics(e, cfg.Registerer)
	e.sched = scheduler.New(scheduler.Config{
		Clock:         cfg.Clock,
		Run:           e.runPoll,
		MaxConcurrent: cfg.MaxConcurrent,
		Observer:      e.metrics,
	})
	return e
}

// NewVendorClient is the default client for vendor APIs.
func NewVendorClient() *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		},
	}
}

// Start loads every instance, schedules its pollers and starts the
// background loops (state flush, event-log retention).
func (e *Engine) Start(ctx context.Context) error {
	all, err := e.cfg.Store.ListInstances(ctx)
	if err != nil {
		return fmt.Errorf("engine: load instances: %w", err)
	}
	for _, inst := range all {
		s, err := inst.Settings(e.cfg.Catalog)
		if err != nil {
			e.cfg.Logger.Error("instance cannot run: its stored configuration does not compile", "instance", inst.ID, "err", err)
			continue
		}
		e.Apply(inst, s)
	}
	ctx, e.cancel = context.WithCancel(ctx)
	e.stopped = make(chan struct{})
	e.mu.Lock()
	e.bg = ctx
	pending := make([]*instanceRT, 0, len(e.instances))
	for _, rt := range e.instances {
		pending = append(pending, rt)
	}
	e.mu.Unlock()
	for _, rt := range pending {
		e.subscribe(rt.inst, rt.settings)
	}
	e.sched.Start(ctx)
	go e.background(ctx)
	return nil
}

// Stop stops polling, waits for polls in flight to end (a cancelled poll
// keeps its old watermark) and persists poller states. Safe after a partial
// Start.
func (e *Engine) Stop() {
	e.sched.Stop()
	if e.cancel != nil {
		e.cancel()
		<-e.stopped
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.flush(ctx)
}

func (e *Engine) background(ctx context.Context) {
	defer close(e.stopped)
	flush := e.cfg.Clock.NewTimer(e.cfg.FlushInterval)
	defer flush.Stop()
	e.prune(ctx)
	prune := e.cfg.Clock.NewTimer(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C():
			e.flush(ctx)
			flush.Reset(e.cfg.FlushInterval)
		case <-prune.C():
			e.prune(ctx)
			prune.Reset(time.Hour)
		}
	}
}

// flush persists the states of pollers whose last polls found nothing. Such
// a poll needs no commit of its own: if the process dies first, the poller
// restarts from its last committed watermark, re-reads a window in which it
// found nothing, and its seen-ids are still those of that watermark.
func (e *Engine) flush(ctx context.Context) {
	e.mu.RLock()
	var states []store.PollerState
	var dirty []*pollerRT
	for _, p := range e.pollers {
		p.mu.Lock()
		if p.dirty {
			states = append(states, cloneState(p.state))
			dirty = append(dirty, p)
			p.dirty = false
		}
		p.mu.Unlock()
	}
	e.mu.RUnlock()
	if len(states) == 0 {
		return
	}
	start := e.cfg.Clock.Now()
	// Small transactions: bbolt has one writer, and a flush of tens of
	// thousands of states spread over the pollers bucket rewrites most of
	// its pages; in one transaction, every poll waiting to commit its
	// changes would wait for all of it.
	for i := 0; i < len(states); i += flushChunk {
		j := min(i+flushChunk, len(states))
		if err := e.cfg.Store.SavePollerStates(ctx, states[i:j]); err != nil {
			e.cfg.Logger.Error("saving poller states failed; will retry", "pollers", len(states)-i, "err", err)
			for _, p := range dirty[i:] {
				p.mu.Lock()
				p.dirty = true
				p.mu.Unlock()
			}
			break
		}
	}
	took := e.cfg.Clock.Now().Sub(start)
	e.metrics.flush.Observe(took.Seconds())
	if took > e.cfg.FlushInterval {
		e.cfg.Logger.Warn("persisting the states of empty polls took longer than the flush interval", "pollers", len(states), "took", took, "interval", e.cfg.FlushInterval)
	}
}

// flushChunk is how many poller states one flush transaction holds.
const flushChunk = 1000

func (e *Engine) prune(ctx context.Context) {
	cutoff := e.cfg.Clock.Now().Add(-e.cfg.Retention)
	total := 0
	for {
		n, err := e.cfg.Store.PruneEntries(ctx, cutoff, 5000)
		total += n
		if err != nil {
			e.cfg.Logger.Error("event log retention failed", "err", err)
			return
		}
		if n < 5000 {
			break
		}
	}
	if total > 0 {
		e.cfg.Logger.Info("event log pruned", "removed", total, "before", cutoff)
	}
}

// Apply starts, changes or stops an instance's pollers to match its
// settings. It takes effect at once.
func (e *Engine) Apply(inst *instances.Instance, s *instances.Settings) {
	rt := &instanceRT{inst: inst, settings: s}
	wanted := map[string]bool{}
	if !inst.Disabled && s.NotificationsEnabled {
		for i := range s.Pollers {
			wanted[s.Pollers[i].Resource] = true
		}
	}
	e.mu.Lock()
	e.instances[inst.ID] = rt
	if e.bg != nil {
		e.subscribe(inst, s)
	}
	for _, k := range e.sched.Keys(inst.ID) {
		if !wanted[k.Resource] {
			e.sched.Remove(k)
		}
	}
	var missing []string
	for res := range wanted {
		if _, ok := e.pollers[scheduler.Key{Instance: inst.ID, Resource: res}]; !ok {
			missing = append(missing, res)
		}
	}
	e.mu.Unlock()

	// Store I/O happens outside the engine's lock, so polls in flight and
	// the admin API do not wait on an fsync.
	made := map[string]*pollerRT{}
	if len(missing) > 0 {
		stored := e.loadStates(inst.ID)
		var fresh []store.PollerState
		for _, res := range missing {
			st, ok := stored[res]
			if !ok || st.Watermark.IsZero() {
				// New, or only pushed to so far (webhook seen ids): the
				// poller starts now, keeping what pushes delivered.
				seen := st.Seen
				st = store.PollerState{InstanceID: inst.ID, Resource: res, Watermark: e.firstWatermark(inst, s), Seen: seen, Events: st.Events}
				fresh = append(fresh, st)
			}
			made[res] = &pollerRT{class: inst.ConnectorKey, state: st}
		}
		if len(fresh) > 0 {
			// A new poller's first watermark must survive a crash before its
			// first poll, or a restart would start it later and miss changes.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := e.cfg.Store.SavePollerStates(ctx, fresh); err != nil {
				e.cfg.Logger.Error("saving new poller states failed", "instance", inst.ID, "err", err)
				for _, st := range fresh {
					made[st.Resource].dirty = true
				}
			}
			cancel()
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	// Removed or re-applied meanwhile: the later call decides. (Rotated
	// secrets replace the instanceRT but keep its settings.)
	if cur, ok := e.instances[inst.ID]; !ok || cur.settings != s {
		return
	}
	for res := range wanted {
		key := scheduler.Key{Instance: inst.ID, Resource: res}
		if p, ok := made[res]; ok {
			if _, exists := e.pollers[key]; !exists {
				e.pollers[key] = p
				delete(e.hooks, key) // the poller holds the seen ids from now on
			}
		}
		e.sched.Set(key, s.Schedule)
	}
}

// firstWatermark is where a new poller starts: event.poller.start when set,
// else the instance's creation for pollers provisioned with it, else now (a
// resource added later does not backfill).
func (e *Engine) firstWatermark(inst *instances.Instance, s *instances.Settings) time.Time {
	if !s.Start.IsZero() {
		return s.Start
	}
	if inst.UpdatedAt.Equal(inst.CreatedAt) || inst.UpdatedAt.IsZero() {
		return inst.CreatedAt
	}
	return e.cfg.Clock.Now()
}

func (e *Engine) loadStates(id int64) map[string]store.PollerState {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]store.PollerState{}
	states, err := e.cfg.Store.ListPollerStates(ctx, id)
	if err != nil {
		e.cfg.Logger.Error("loading poller states failed", "instance", id, "err", err)
		return out
	}
	for _, st := range states {
		out[st.Resource] = st
	}
	return out
}

// Remove stops an instance's pollers and drops its queued deliveries.
func (e *Engine) Remove(id int64) {
	e.sched.RemoveInstance(id)
	e.mu.Lock()
	if rt, ok := e.instances[id]; ok {
		e.unsubscribe(rt.inst, rt.settings)
	}
	delete(e.instances, id)
	delete(e.pauses, id)
	for k := range e.hooks {
		if k.Instance == id {
			delete(e.hooks, k)
		}
	}
	for k := range e.pollers {
		if k.Instance == id {
			delete(e.pollers, k)
		}
	}
	e.mu.Unlock()
	if e.cfg.Outbox != nil {
		e.cfg.Outbox.Forget(id)
	}
}

// ErrNoPoller is returned when an instance has no active poller for a resource.
var ErrNoPoller = errors.New("no active poller for this resource")

// RunNow polls a resource at once, outside its schedule.
func (e *Engine) RunNow(id int64, resource string) error {
	if !e.sched.Trigger(scheduler.Key{Instance: id, Resource: resource}) {
		return ErrNoPoller
	}
	return nil
}

// PollerStatus is one poller as the admin API shows it.
type PollerStatus struct {
	Resource    string    `json:"resource"`
	Enabled     bool      `json:"enabled"`
	Schedule    string    `json:"refreshInterval"`
	Watermark   time.Time `json:"watermark"`
	LastRun     time.Time `json:"lastRun"`
	LastSuccess time.Time `json:"lastSuccess"`
	NextRun     time.Time `json:"nextRun"`
	Running     bool      `json:"running"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt"`
	// PausedUntil is set while the vendor's quota for the instance is
	// spent; polling resumes by itself then.
	PausedUntil *time.Time `json:"pausedUntil,omitempty"`
	PauseReason string     `json:"pauseReason,omitempty"`
	Polls       int64      `json:"polls"`
	Failures    int64      `json:"failures"`
	Events      int64      `json:"events"`
	Skips       int64      `json:"skips"`
}

// Pollers reports an instance's pollers, by resource.
func (e *Engine) Pollers(id int64) []PollerStatus {
	e.mu.RLock()
	rt := e.instances[id]
	var out []PollerStatus
	if rt != nil {
		for _, p := range rt.settings.Pollers {
			key := scheduler.Key{Instance: id, Resource: p.Resource}
			ps := PollerStatus{Resource: p.Resource, Schedule: rt.settings.Schedule.Text}
			if pz, ok := e.pauses[id]; ok && pz.until.After(e.cfg.Clock.Now()) {
				until := pz.until
				ps.PausedUntil, ps.PauseReason = &until, pz.reason
			}
			if prt, ok := e.pollers[key]; ok {
				prt.mu.Lock()
				st := prt.state
				prt.mu.Unlock()
				ps.Watermark, ps.LastRun, ps.LastSuccess = st.Watermark, st.LastRun, st.LastSuccess
				ps.LastError, ps.LastErrorAt = st.LastError, st.LastErrorAt
				ps.Polls, ps.Failures, ps.Events = st.Polls, st.Failures, st.Events
			}
			if info, ok := e.sched.Info(key); ok {
				ps.Enabled, ps.NextRun, ps.Running, ps.Skips = true, info.Next, info.Running, info.Skips
			}
			out = append(out, ps)
		}
	}
	e.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// Redeliver hands reset deliveries back to the dispatcher.
func (e *Engine) Redeliver(ds []delivery.Delivery) {
	if e.cfg.Outbox != nil && len(ds) > 0 {
		e.cfg.Outbox.Enqueue(ds...)
	}
}

func cloneState(st store.PollerState) store.PollerState {
	if st.Seen != nil {
		m := make(map[string]int64, len(st.Seen))
		for k, v := range st.Seen {
			m[k] = v
		}
		st.Seen = m
	}
	return st
}

// SignatureKey returns an instance's current callback signature key, for
// the dispatcher to sign each attempt with ("" when none is set).
func (e *Engine) SignatureKey(id int64) string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if rt, ok := e.instances[id]; ok {
		v, _ := rt.inst.Value(connectors.KeySignatureKey)
		return v
	}
	return ""
}
