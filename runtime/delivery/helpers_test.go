package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pollwire/pollwire/runtime/clock"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// wait is how long a test waits in real time for something that should
// happen within milliseconds.
const wait = 5 * time.Second

// fakeStore is an in-memory outbox that records every SaveAttempt.
type fakeStore struct {
	mu        sync.Mutex
	rows      map[uint64]Delivery // as persisted, without Body
	bodies    map[uint64][]byte
	saves     []Delivery
	saved     chan Delivery // each recorded attempt
	calls     chan error    // the result of each SaveAttempt call
	failSaves int           // the next failSaves SaveAttempt calls fail
	pendErr   error
	loads     atomic.Int32
}

func newFakeStore() *fakeStore {
	return &fakeStore{rows: map[uint64]Delivery{}, bodies: map[uint64][]byte{}, saved: make(chan Delivery, 1000), calls: make(chan error, 1000)}
}

// put stores d as the engine's commit would and returns it with its body.
func (s *fakeStore) put(d Delivery) Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies[d.Seq] = slices.Clone(d.Body)
	row := d
	row.Body = nil
	s.rows[d.Seq] = row
	return d
}

func (s *fakeStore) row(seq uint64) (Delivery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rows[seq]
	return r, ok
}

func (s *fakeStore) history() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.saves)
}

// resetForRetry does what the admin API's redelivery does to the store.
func (s *fakeStore) resetForRetry(seq uint64, now time.Time) Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rows[seq]
	r.Status, r.Attempts, r.NextAttempt, r.LastError, r.LastStatus = Pending, 0, now, "", 0
	s.rows[seq] = r
	return r
}

func (s *fakeStore) deleteInstance(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq, r := range s.rows {
		if r.InstanceID == id {
			delete(s.rows, seq)
			delete(s.bodies, seq)
		}
	}
}

func (s *fakeStore) PendingDeliveries(ctx context.Context) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pendErr != nil {
		return nil, s.pendErr
	}
	var out []Delivery
	for _, r := range s.rows {
		if r.Status == Pending {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Delivery) int { return int(a.Seq) - int(b.Seq) })
	return out, nil
}

func (s *fakeStore) LoadBody(ctx context.Context, seq uint64) ([]byte, error) {
	s.loads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bodies[seq]
	if !ok {
		return nil, fmt.Errorf("body %d: %w", seq, ErrGone)
	}
	return slices.Clone(b), nil
}

func (s *fakeStore) SaveAttempt(ctx context.Context, d *Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Body != nil {
		panic("SaveAttempt got a body: the dispatcher should not hold it after an attempt")
	}
	if s.failSaves > 0 {
		s.failSaves--
		err := errors.New("disk full")
		s.calls <- err
		return err
	}
	r, ok := s.rows[d.Seq]
	if !ok {
		err := fmt.Errorf("save %d: %w", d.Seq, ErrGone)
		s.calls <- err
		return err
	}
	s.calls <- nil
	r.Attempts, r.Status, r.NextAttempt = d.Attempts, d.Status, d.NextAttempt
	r.LastStatus, r.LastError, r.DeliveredAt = d.LastStatus, d.LastError, d.DeliveredAt
	s.rows[d.Seq] = r
	s.saves = append(s.saves, *d)
	s.saved <- *d
	return nil
}

var _ Store = (*fakeStore)(nil)

// hit is one request a callback server received.
type hit struct {
	n      int       // 1-based count of requests to this server
	at     time.Time // the fake clock when it arrived
	header http.Header
	body   []byte
}

// callback is a consumer's endpoint on loopback.
type callback struct {
	*httptest.Server
	hits chan hit
	n    atomic.Int32
}

// newCallback starts a callback server that records each request, then
// answers it with answer (which may block).
func newCallback(t *testing.T, clk clock.Clock, answer func(n int, w http.ResponseWriter, r *http.Request)) *callback {
	t.Helper()
	cb := &callback{hits: make(chan hit, 1000)}
	cb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := clk.Now()
		body, _ := io.ReadAll(r.Body)
		n := int(cb.n.Add(1))
		cb.hits <- hit{n: n, at: at, header: r.Header.Clone(), body: body}
		answer(n, w, r)
	}))
	t.Cleanup(cb.Close)
	return cb
}

func (cb *callback) host() string {
	u, _ := url.Parse(cb.URL)
	return u.Host
}

func (cb *callback) next(t *testing.T) hit {
	t.Helper()
	select {
	case h := <-cb.hits:
		return h
	case <-time.After(wait):
		t.Fatalf("callback %s: no request within %s", cb.URL, wait)
		return hit{}
	}
}

// none asserts that no request arrives for a short while (real time).
func (cb *callback) none(t *testing.T) {
	t.Helper()
	select {
	case h := <-cb.hits:
		t.Fatalf("callback %s: unexpected request #%d at %s (%s)", cb.URL, h.n, h.at, h.header.Get(HeaderElementsID))
	case <-time.After(50 * time.Millisecond):
	}
}

// status answers with a fixed status.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// hang answers nothing until the client gives up or the test ends.
func hang(t *testing.T) func(int, http.ResponseWriter, *http.Request) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
}

// env is a dispatcher under test with its fake clock, store and metrics.
type env struct {
	t   *testing.T
	clk *clock.Fake
	st  *fakeStore
	reg *prometheus.Registry
	d   *Dispatcher

	beforeStart func(*Dispatcher) // runs between New and Start
}

func newEnv(t *testing.T) *env {
	return &env{t: t, clk: clock.NewFake(t0), st: newFakeStore()}
}

// start creates and starts the dispatcher: loopback is allowed unless an
// option sets another client.
func (e *env) start(opts ...func(*Config)) *Dispatcher {
	e.t.Helper()
	cfg := Config{
		Store:  e.st,
		Clock:  e.clk,
		Client: NewClient(true),
		Logger: slog.New(slog.NewTextHandler(e.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.reg = prometheus.NewRegistry() // a restart registers its metrics anew
	cfg.Registerer = e.reg
	e.d = New(cfg)
	if e.beforeStart != nil {
		e.beforeStart(e.d)
	}
	if err := e.d.Start(context.Background()); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	e.t.Cleanup(e.d.Stop)
	return e.d
}

// delivery stores a new pending delivery with the default retry settings
// (3 retries, 5 minutes) due now, and returns it with its body.
func (e *env) delivery(seq uint64, instance int64, url string) Delivery {
	return e.st.put(Delivery{
		Seq: seq, InstanceID: instance, EventID: fmt.Sprintf("evt-%d", seq), URL: url,
		Body:       []byte(fmt.Sprintf(`{"message": {"instanceId": %d, "eventId": "evt-%d"}}`, instance, seq)),
		MaxRetries: 3, Interval: 5 * time.Minute, NextAttempt: e.clk.Now(), Status: Pending, CreatedAt: e.clk.Now(),
	})
}

func (e *env) nextSave() Delivery {
	e.t.Helper()
	select {
	case d := <-e.st.saved:
		return d
	case <-time.After(wait):
		e.t.Fatalf("no SaveAttempt within %s", wait)
		return Delivery{}
	}
}

// nextCall waits for a SaveAttempt call and returns its result.
func (e *env) nextCall() error {
	e.t.Helper()
	select {
	case err := <-e.st.calls:
		return err
	case <-time.After(wait):
		e.t.Fatalf("no SaveAttempt call within %s", wait)
		return nil
	}
}

// eventually waits until cond holds: for what the dispatcher does after a
// store call returns, which no channel announces.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("not within %s: %s", wait, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// idle waits until the dispatcher holds no delivery.
func (e *env) idle() {
	e.t.Helper()
	e.eventually("dispatcher idle", func() bool { return len(e.d.Depth()) == 0 })
}

// advance waits until n timers are armed (the code is parked on the clock),
// then moves the clock by d.
func (e *env) advance(n int, d time.Duration) {
	e.t.Helper()
	if !e.clk.WaitTimers(n, wait) {
		e.t.Fatalf("want %d armed timers, have %d", n, e.clk.Timers())
	}
	e.clk.Advance(d)
}

// metric returns the value of a counter or gauge with the given label, 0
// when absent.
func (e *env) metric(name, label, value string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

func (e *env) histogramCount(name string) uint64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}
