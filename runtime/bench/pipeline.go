package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/registry"
	"github.com/pollwire/pollwire/connectors/rest"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/daemon"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/engine"
	"github.com/pollwire/pollwire/runtime/scheduler"
	"github.com/pollwire/pollwire/runtime/secrets"
	"github.com/pollwire/pollwire/runtime/store"
)

// signatureKey signs every notification, as a production instance would.
const signatureKey = "bench-signature-key"

// pipeline is the daemon's pipeline as daemon.Start wires it (store,
// delivery dispatcher, engine), minus the admin API: the bench provisions
// through the store and engine.Start, which is how a restarted daemon
// loads its instances. Through the admin API each create would be its own
// HTTP request, transaction and engine.Apply; 100,000 of them would
// measure the API, not polling.
type pipeline struct {
	cfg   Config
	dir   string
	temp  bool
	bolt  *store.Bolt
	store *countingStore
	reg   *prometheus.Registry
	disp  *delivery.Dispatcher
	eng   *engine.Engine

	rec *recorder
	// ordinal maps an instance id to its position 0..Instances-1.
	ordinal map[int64]int32
	// offsets are each poller's start offset in its interval, as the
	// scheduler derives it.
	offsets []time.Duration
}

func runPipeline(ctx context.Context, cfg Config) (*Provision, *Phase, error) {
	win := newWindow()
	v, err := newVendor(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer v.srv.close()
	sk := newSink(win)
	cb, err := serve("sink", sk)
	if err != nil {
		return nil, nil, err
	}
	defer cb.close()

	p := &pipeline{cfg: cfg, rec: newRecorder(win, cfg.pollers())}
	defer p.close()
	if err := p.open(); err != nil {
		return nil, nil, err
	}
	prov, err := p.provision(ctx, v.srv.url, cb.url)
	if err != nil {
		return nil, nil, err
	}
	heap0, reset := freshPeak()
	var startErr error
	pprof.Do(ctx, pprof.Labels("role", "pipeline"), func(ctx context.Context) {
		startErr = p.start(ctx, prov)
	})
	if startErr != nil {
		return nil, nil, startErr
	}
	// Start has its own peak (every instance loaded at once); the phase's
	// peak is measured from here.
	_, prov.StartPeakRSS = memStatus()
	resetPeakRSS()
	cfg.logf("pipeline: engine started in %.2fs; warming up for %s", prov.StartS, cfg.Warmup)

	var commits0 Commits
	var lag0 []bucket
	run := phaseRun{
		name: "pipeline", cfg: cfg, win: win, rec: p.rec, sink: sk, drv: v.drv,
		heapBefore: heap0, peakReset: reset, profile: cfg.CPUProfile,
		atStart: func() {
			commits0 = p.store.snapshot()
			lag0 = p.lagBuckets()
			if cfg.HeapProfileStart != nil {
				if err := pprof.Lookup("heap").WriteTo(cfg.HeapProfileStart, 0); err != nil {
					cfg.logf("heap profile: %v", err)
				}
			}
		},
		atEnd: func(ph *Phase) {
			c := p.store.snapshot().minus(commits0)
			c.PerS = float64(c.CommitPoll+c.SavePollerStates+c.SaveAttempt+c.AppendEntries) / time.Duration(win.end.Load()-win.start.Load()).Seconds()
			ph.Commits = &c
			ph.EngineLag = promSummary(p.lagBuckets(), lag0)
			if fi, err := os.Stat(filepath.Join(p.dir, daemon.DBFile)); err == nil {
				ph.StoreBytes = fi.Size()
			}
			if cfg.HeapProfile != nil {
				if err := pprof.Lookup("heap").WriteTo(cfg.HeapProfile, 0); err != nil {
					cfg.logf("heap profile: %v", err)
				}
			}
		},
		skips: func() int64 { return int64(p.counter("pollwire_poll_skips_total", nil)) },
		failures: func() int64 {
			return int64(p.counter("pollwire_delivery_attempts_total", func(l string) bool { return l != "success" }))
		},
	}
	ph, err := measure(ctx, run)
	if err != nil {
		return nil, nil, err
	}
	return prov, ph, nil
}

// open creates the store in a fresh data directory.
func (p *pipeline) open() error {
	p.dir = p.cfg.DataDir
	if p.dir == "" {
		dir, err := os.MkdirTemp("", "pollwire-bench-")
		if err != nil {
			return err
		}
		p.dir, p.temp = dir, true
	}
	path := filepath.Join(p.dir, daemon.DBFile)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s: %w", path, ErrStoreExists)
	}
	key := make([]byte, secrets.KeySize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	sealer, err := secrets.NewSealer(key)
	if err != nil {
		return err
	}
	if p.bolt, err = store.Open(path, sealer); err != nil {
		return err
	}
	p.store = &countingStore{Store: p.bolt}
	return nil
}

// close stops the pipeline in the daemon's order and removes a temporary
// data directory.
func (p *pipeline) close() {
	if p.eng != nil {
		p.eng.Stop()
	}
	if p.disp != nil {
		p.disp.Stop()
	}
	if p.bolt != nil {
		if err := p.bolt.Close(); err != nil {
			p.cfg.logf("closing the store: %v", err)
		}
	}
	if p.temp {
		os.RemoveAll(p.dir)
	}
}

// instanceBody is instance n's POST body as the admin API takes it.
func (p *pipeline) instanceBody(n int, vendorURL, callbackURL string) ([]byte, error) {
	pc := make(map[string]any, p.cfg.Resources)
	for r := 0; r < p.cfg.Resources; r++ {
		pc[resourceName(r)] = map[string]any{
			"url":         "/offset/" + simResource(n*p.cfg.Resources+r) + "?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}",
			"recordsPath": "data",
			"pageSize":    pageSize,
			"pagination":  map[string]any{"type": "offset", "hasMorePath": "has_more"},
			"datesConfiguration": map[string]any{
				"updatedDateField": "updated_at", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
				"createdDateField": "created_at", "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
			},
		}
	}
	return json.Marshal(map[string]any{
		"connector": map[string]any{"key": rest.Key},
		"name":      "bench-" + strconv.Itoa(n),
		"tags":      []string{"bench"},
		"configuration": map[string]any{
			connectors.KeyBaseURL:             vendorURL,
			connectors.KeyNotificationEnabled: "true",
			connectors.KeyCallbackURL:         callbackURL + "/hooks/" + strconv.Itoa(n%p.cfg.CallbackURLs),
			connectors.KeySignatureKey:        signatureKey,
			connectors.KeyRefreshInterval:     p.cfg.Interval.String(),
			connectors.KeyBatchSize:           strconv.Itoa(p.cfg.BatchSize),
			connectors.KeyPollerConfiguration: pc,
		},
	})
}

func resourceName(r int) string { return "r" + strconv.Itoa(r) }

// provision creates every instance the way the admin API does (decode,
// validate, compile, CreateInstance) and stores each poller's first state.
// CreateInstance is one fsync'd transaction per instance, and the Store
// interface has no batch form, so the instances are built in parallel and
// stored one by one. The first states go in large SavePollerStates
// batches: without them engine.Start would save each instance's new states
// in its own group commit, waiting out bbolt's batch delay every time.
func (p *pipeline) provision(ctx context.Context, vendorURL, callbackURL string) (*Provision, error) {
	cfg := p.cfg
	cat := registry.Default()
	prov := &Provision{Instances: cfg.Instances, Pollers: cfg.pollers()}
	cfg.logf("pipeline: provisioning %d instances", cfg.Instances)
	start := time.Now()
	now := start

	type built struct {
		n    int
		inst *instances.Instance
		err  error
	}
	work := make(chan int)
	out := make(chan built, 256)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				b := built{n: n}
				body, err := p.instanceBody(n, vendorURL, callbackURL)
				if err == nil {
					var req *instances.Request
					if req, err = instances.DecodeRequest(body); err == nil {
						b.inst, _, err = instances.New(req, cat, now)
					}
				}
				b.err = err
				out <- b
			}
		}()
	}
	go func() {
		defer close(work)
		for n := 0; n < cfg.Instances; n++ {
			select {
			case work <- n:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()

	p.ordinal = make(map[int64]int32, cfg.Instances)
	ids := make([]int64, cfg.Instances)
	var firstErr error
	for b := range out {
		if firstErr != nil {
			continue // drain
		}
		if b.err == nil {
			b.err = p.bolt.CreateInstance(ctx, b.inst)
		}
		if b.err != nil {
			firstErr = fmt.Errorf("instance %d: %w", b.n, b.err)
			continue
		}
		p.ordinal[b.inst.ID] = int32(b.n)
		ids[b.n] = b.inst.ID
		if done := len(p.ordinal); done%20000 == 0 {
			cfg.logf("pipeline: %d instances stored (%.0f/s)", done, float64(done)/time.Since(start).Seconds())
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prov.CreateS = time.Since(start).Seconds()

	start = time.Now()
	p.offsets = make([]time.Duration, cfg.pollers())
	const chunk = 10000
	states := make([]store.PollerState, 0, chunk)
	for n, id := range ids {
		for r := 0; r < cfg.Resources; r++ {
			res := resourceName(r)
			p.offsets[n*cfg.Resources+r] = scheduler.Offset(scheduler.Key{Instance: id, Resource: res}, cfg.Interval)
			states = append(states, store.PollerState{InstanceID: id, Resource: res, Watermark: now})
			if len(states) == chunk {
				if err := p.bolt.SavePollerStates(ctx, states); err != nil {
					return nil, err
				}
				states = states[:0]
			}
		}
	}
	if err := p.bolt.SavePollerStates(ctx, states); err != nil {
		return nil, err
	}
	prov.StatesS = time.Since(start).Seconds()
	cfg.logf("pipeline: %d instances in %.1fs, %d poller states in %.2fs", cfg.Instances, prov.CreateS, cfg.pollers(), prov.StatesS)
	return prov, nil
}

// start wires and starts the pipeline as daemon.Start does, and times
// engine.Start.
func (p *pipeline) start(ctx context.Context, prov *Provision) error {
	discard := slog.New(slog.DiscardHandler)
	p.reg = prometheus.NewRegistry()
	var eng *engine.Engine
	p.disp = delivery.New(delivery.Config{
		Store:      p.store,
		Keys:       func(id int64) string { return eng.SignatureKey(id) },
		Logger:     discard,
		Client:     delivery.NewClient(true),
		Registerer: p.reg,
	})
	sources := registry.Sources()
	sources[rest.Key] = &lagSource{inner: sources[rest.Key], p: p}
	eng = engine.New(engine.Config{
		Store:         p.store,
		Catalog:       registry.Default(),
		Sources:       sources,
		Outbox:        p.disp,
		Logger:        discard,
		MaxConcurrent: p.cfg.MaxConcurrent,
		Registerer:    p.reg,
	})
	p.eng = eng
	if err := p.disp.Start(ctx); err != nil {
		return err
	}
	start, cpu := time.Now(), cpuTime()
	// The engine's background work lives until Stop, not until ctx ends.
	if err := eng.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	prov.StartS = time.Since(start).Seconds()
	prov.StartCPUS = (cpuTime() - cpu).Seconds()
	return nil
}

// index is the poller position of (instance, resource).
func (p *pipeline) index(id int64, res string) int {
	n, ok := p.ordinal[id]
	if !ok || len(res) < 2 {
		return -1
	}
	r, err := strconv.Atoi(res[1:])
	if err != nil || r >= p.cfg.Resources {
		return -1
	}
	return int(n)*p.cfg.Resources + r
}

// lagSource measures each poll's scheduling lag exactly: the engine stamps
// a poll's start as Request.Now, and its due time is the poller's slot at
// or before it (offset + k × interval since the epoch, as the scheduler
// computes them). That holds while lag stays under one interval; the
// engine's own lag histogram is reported beside it as a cross-check.
type lagSource struct {
	inner source.Source
	p     *pipeline
}

func (s *lagSource) Poll(ctx context.Context, req *source.Request, emit func(source.Record) error) error {
	i := s.p.index(req.Instance.ID, req.Poller.Resource)
	if every := req.Settings.Schedule.Every; i >= 0 && every > 0 {
		s.p.rec.started(i, slotAtOrBefore(req.Now, s.p.offsets[i], every), req.Now)
	}
	err := s.inner.Poll(ctx, req, emit)
	if err != nil && ctx.Err() == nil {
		s.p.rec.errors.Add(1)
	}
	return err
}

// slotAtOrBefore is the latest offset + k × every (since the Unix epoch)
// not after t.
func slotAtOrBefore(t time.Time, offset, every time.Duration) time.Time {
	n := t.UnixNano() - int64(offset)
	m := n % int64(every)
	if m < 0 {
		m += int64(every)
	}
	return time.Unix(0, t.UnixNano()-m)
}

// countingStore counts the writes the pipeline asks of the store.
type countingStore struct {
	store.Store
	commitPoll, saveStates, statesSaved, saveAttempt, appendEntries atomic.Int64
}

func (c *countingStore) CommitPoll(ctx context.Context, st store.PollerState, entries []store.Entry) error {
	c.commitPoll.Add(1)
	return c.Store.CommitPoll(ctx, st, entries)
}

func (c *countingStore) SavePollerStates(ctx context.Context, states []store.PollerState) error {
	c.saveStates.Add(1)
	c.statesSaved.Add(int64(len(states)))
	return c.Store.SavePollerStates(ctx, states)
}

func (c *countingStore) SaveAttempt(ctx context.Context, d *delivery.Delivery) error {
	c.saveAttempt.Add(1)
	return c.Store.SaveAttempt(ctx, d)
}

func (c *countingStore) AppendEntries(ctx context.Context, id int64, entries []store.Entry) error {
	c.appendEntries.Add(1)
	return c.Store.AppendEntries(ctx, id, entries)
}

func (c *countingStore) snapshot() Commits {
	return Commits{
		CommitPoll: c.commitPoll.Load(), SavePollerStates: c.saveStates.Load(), StatesSaved: c.statesSaved.Load(),
		SaveAttempt: c.saveAttempt.Load(), AppendEntries: c.appendEntries.Load(),
	}
}

func (a Commits) minus(b Commits) Commits {
	return Commits{
		CommitPoll: a.CommitPoll - b.CommitPoll, SavePollerStates: a.SavePollerStates - b.SavePollerStates,
		StatesSaved: a.StatesSaved - b.StatesSaved, SaveAttempt: a.SaveAttempt - b.SaveAttempt,
		AppendEntries: a.AppendEntries - b.AppendEntries,
	}
}

// bucket is one cumulative bucket of a Prometheus histogram.
type bucket struct {
	le    float64
	count uint64
}

// lagBuckets reads the engine's pollwire_schedule_lag_seconds, with its
// sum as a last bucket of le -2 so a difference carries it along.
func (p *pipeline) lagBuckets() []bucket {
	mfs, err := p.reg.Gather()
	if err != nil {
		return nil
	}
	for _, mf := range mfs {
		if mf.GetName() != "pollwire_schedule_lag_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			var out []bucket
			for _, b := range h.GetBucket() {
				out = append(out, bucket{le: b.GetUpperBound(), count: b.GetCumulativeCount()})
			}
			out = append(out, bucket{le: -1, count: h.GetSampleCount()})
			// The sum in microseconds is precise enough for a mean.
			return append(out, bucket{le: -2, count: uint64(h.GetSampleSum() * 1e6)})
		}
	}
	return nil
}

// promSummary summarises the difference of two lagBuckets readings.
func promSummary(now, before []bucket) *PromHist {
	if len(now) < 2 || len(before) != len(now) {
		return nil
	}
	k := len(now)
	total := int64(now[k-2].count - before[k-2].count)
	out := &PromHist{Count: total}
	if total == 0 {
		return out
	}
	out.MeanS = float64(now[k-1].count-before[k-1].count) / 1e6 / float64(total)
	rank := uint64(float64(total)*0.99 + 0.999999)
	out.P99S, out.MaxS = -1, -1
	p99Set := false
	for i := 0; i < k-2; i++ {
		c := now[i].count - before[i].count
		if !p99Set && c >= rank {
			out.P99S, p99Set = now[i].le, true
		}
		if c == uint64(total) && out.MaxS < 0 {
			out.MaxS = now[i].le
		}
	}
	return out
}

// counter sums a counter of the pipeline's registry over the series whose
// single label value passes keep (all when keep is nil).
func (p *pipeline) counter(name string, keep func(string) bool) float64 {
	mfs, err := p.reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if keep != nil {
				ls := m.GetLabel()
				if len(ls) == 0 || !keep(ls[0].GetValue()) {
					continue
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
