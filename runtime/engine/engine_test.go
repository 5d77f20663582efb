package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/registry"
	"github.com/pollwire/pollwire/connectors/rest"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/scheduler"
	"github.com/pollwire/pollwire/runtime/secrets"
	"github.com/pollwire/pollwire/runtime/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// received is one notification as the callback saw it.
type received struct {
	EventID string
	Header  http.Header
	Body    []byte
	Msg     struct {
		Message struct {
			EventID    string `json:"eventId"`
			InstanceID int64  `json:"instanceId"`
			Events     []struct {
				EventType  string `json:"eventType"`
				ObjectType string `json:"objectType"`
				ObjectID   string `json:"objectId"`
				Date       string `json:"date"`
			} `json:"events"`
			Raw map[string][]json.RawMessage `json:"raw"`
		} `json:"message"`
	}
}

type sink struct {
	mu   sync.Mutex
	got  []received
	note chan struct{}
	srv  *httptest.Server
}

func newSink(t *testing.T) *sink {
	s := &sink{note: make(chan struct{}, 1000)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var rc received
		rc.Header = r.Header.Clone()
		rc.Body = body
		if err := json.Unmarshal(body, &rc.Msg); err != nil {
			t.Errorf("callback body is not JSON: %v", err)
		}
		rc.EventID = r.Header.Get("Elements-Webhook-Id")
		s.mu.Lock()
		s.got = append(s.got, rc)
		s.mu.Unlock()
		s.note <- struct{}{}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) debug() string {
	var b strings.Builder
	for _, r := range s.all() {
		fmt.Fprintf(&b, "%s:%d ", r.EventID, len(r.Msg.Message.Events))
	}
	return b.String()
}

func (s *sink) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// waitEvents waits until n events in total arrived.
func (s *sink) waitEvents(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		got := s.all()
		c := 0
		for _, r := range got {
			c += len(r.Msg.Message.Events)
		}
		if c >= n {
			return got
		}
		select {
		case <-s.note:
		case <-deadline:
			t.Fatalf("waited for %d events, have %d: %s", n, c, s.debug())
		}
	}
}

type harness struct {
	t     *testing.T
	clk   *clock.Fake
	st    *store.Bolt
	eng   *Engine
	disp  *delivery.Dispatcher
	sim   *rest.Simulator
	vsrv  *httptest.Server
	sink  *sink
	skew  time.Duration
	style string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(t0), style: "offset"}
	h.sim = rest.NewSimulator(rest.SimOptions{Now: func() time.Time { return h.clk.Now().Add(h.skew) }, MaxLimit: 100})
	h.vsrv = httptest.NewServer(h.sim)
	t.Cleanup(h.vsrv.Close)
	h.sink = newSink(t)
	sealer, err := secrets.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	h.st, err = store.Open(t.TempDir()+"/pollwire.db", sealer)
	if err != nil {
		t.Fatal(err)
	}
	var eng *Engine
	h.disp = delivery.New(delivery.Config{
		Store: h.st, Clock: h.clk, Client: delivery.NewClient(true),
		Keys: func(id int64) string { return eng.SignatureKey(id) },
	})
	eng = New(Config{Store: h.st, Catalog: registry.Default(), Sources: registry.Sources(), Outbox: h.disp, Clock: h.clk})
	h.eng = eng
	ctx := context.Background()
	if err := h.disp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.eng.Stop()
		h.disp.Stop()
		if err := h.st.Close(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// provision creates a rest instance polling resource through the simulator.
func (h *harness) provision(name string, resources ...string) *instances.Instance {
	h.t.Helper()
	pc := map[string]any{}
	for _, res := range resources {
		pc[res] = map[string]any{
			"url":         "/" + h.style + "/" + res + "?updated_since=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}",
			"pageSize":    7,
			"pagination":  map[string]any{"type": "offset", "hasMorePath": "has_more"},
			"recordsPath": "data",
			"datesConfiguration": map[string]any{
				"updatedDateField": "updated_at", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
				"createdDateField": "created_at", "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX",
			},
		}
	}
	body, _ := json.Marshal(map[string]any{
		"connector": map[string]any{"key": "rest"},
		"name":      name,
		"configuration": map[string]any{
			"base.url":                         h.vsrv.URL,
			"event.notification.enabled":       true,
			"event.notification.callback.url":  h.sink.srv.URL + "/hooks/" + name,
			"event.notification.signature.key": "s3cret-" + name,
			// Tests poll by hand (h.poll); a yearly schedule keeps the
			// scheduler from polling concurrently as the fake clock moves.
			"event.poller.refresh_interval": "cron:0 0 1 1 *",
			"event.poller.configuration":    pc,
		},
	})
	req, err := instances.DecodeRequest(body)
	if err != nil {
		h.t.Fatal(err)
	}
	inst, s, err := instances.New(req, registry.Default(), h.clk.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.CreateInstance(context.Background(), inst); err != nil {
		h.t.Fatal(err)
	}
	h.eng.Apply(inst, s)
	return inst
}

// poll runs one poll synchronously at the fake clock's time.
func (h *harness) poll(inst *instances.Instance, resource string) {
	h.t.Helper()
	h.eng.runPoll(context.Background(), scheduler.Key{Instance: inst.ID, Resource: resource}, h.clk.Now())
	h.settle()
}

// settle waits (bounded, real time) until the dispatcher holds nothing, so
// moving the fake clock next cannot time out an attempt still in flight.
func (h *harness) settle() {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(h.disp.Depth()) > 0; {
		if time.Now().After(deadline) {
			h.t.Fatalf("deliveries did not settle: %v", h.disp.Depth())
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) status(inst *instances.Instance, resource string) PollerStatus {
	for _, p := range h.eng.Pollers(inst.ID) {
		if p.Resource == resource {
			return p
		}
	}
	h.t.Fatalf("no poller %s", resource)
	return PollerStatus{}
}

type pair struct{ id, date string }

// byChange counts deliveries of each (objectId, date).
func byChange(got []received) map[pair]int {
	out := map[pair]int{}
	for _, r := range got {
		for _, ev := range r.Msg.Message.Events {
			out[pair{ev.ObjectID, ev.Date}]++
		}
	}
	return out
}

func TestChangesReachCallbackSigned(t *testing.T) {
	h := newHarness(t)
	inst := h.provision("acme", "contacts")
	h.clk.Advance(time.Second)
	for i := 0; i < 12; i++ {
		h.sim.Put("contacts", map[string]any{"name": fmt.Sprintf("c%d", i)})
	}
	h.clk.Advance(time.Minute)
	h.poll(inst, "contacts")
	got := h.sink.waitEvents(t, 12)
	for _, r := range got {
		mac := hmac.New(sha256.New, []byte("s3cret-acme"))
		mac.Write(r.Body)
		want := "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if r.Header.Get("Elements-Webhook-Signature") != want {
			t.Fatalf("signature %q, want %q", r.Header.Get("Elements-Webhook-Signature"), want)
		}
		if r.EventID == "" || r.EventID != r.Msg.Message.EventID {
			t.Fatalf("Elements-Webhook-Id %q vs body eventId %q", r.EventID, r.Msg.Message.EventID)
		}
		if n := len(r.Msg.Message.Events); n > 10 {
			t.Fatalf("notification has %d events, batch size is 10", n)
		}
		if len(r.Msg.Message.Raw["contacts"]) != len(r.Msg.Message.Events) {
			t.Fatalf("raw has %d records for %d events", len(r.Msg.Message.Raw["contacts"]), len(r.Msg.Message.Events))
		}
		for _, ev := range r.Msg.Message.Events {
			if ev.EventType != Created || ev.ObjectType != "contacts" {
				t.Fatalf("event %+v, want CREATED contacts", ev)
			}
		}
	}
	// An update after the poll is one UPDATED event at the next poll.
	h.clk.Advance(10 * time.Second)
	h.sim.Put("contacts", map[string]any{"id": "contacts_3", "name": "renamed"})
	h.clk.Advance(time.Minute)
	h.poll(inst, "contacts")
	got = h.sink.waitEvents(t, 13)
	var updates []string
	for _, r := range got {
		for _, ev := range r.Msg.Message.Events {
			if ev.EventType == Updated {
				updates = append(updates, ev.ObjectID)
			}
		}
	}
	if len(updates) != 1 || updates[0] != "contacts_3" {
		t.Fatalf("UPDATED events for %v, want exactly contacts_3", updates)
	}
	st := h.status(inst, "contacts")
	if st.Polls != 2 || st.Events != 13 || st.LastError != "" || !st.Watermark.Equal(h.clk.Now()) {
		t.Fatalf("poller status %+v", st)
	}
}

func TestBoundaryCasesDeliverEachChangeOnce(t *testing.T) {
	cases := []struct {
		name string
		skew time.Duration
		run  func(h *harness, inst *instances.Instance) int // returns expected distinct changes
	}{
		{"same timestamp across two polls", 0, func(h *harness, inst *instances.Instance) int {
			ts := h.clk.Now().Add(-100 * time.Millisecond)
			h.sim.PutAt("contacts", map[string]any{"id": "a"}, ts)
			b := h.sim.PutAt("contacts", map[string]any{"id": "b"}, ts)
			h.sim.Hide("contacts", b["id"].(string))
			h.poll(inst, "contacts")
			h.clk.Advance(time.Minute)
			h.sim.Reveal("contacts", "b")
			h.poll(inst, "contacts")
			h.clk.Advance(time.Minute)
			h.poll(inst, "contacts")
			return 2
		}},
		{"updated twice between polls and again after", 0, func(h *harness, inst *instances.Instance) int {
			h.sim.Put("contacts", map[string]any{"id": "x", "v": 1})
			h.poll(inst, "contacts")
			h.clk.Advance(10 * time.Second)
			h.sim.Put("contacts", map[string]any{"id": "x", "v": 2})
			h.clk.Advance(10 * time.Second)
			h.sim.Put("contacts", map[string]any{"id": "x", "v": 3})
			h.clk.Advance(40 * time.Second)
			h.poll(inst, "contacts")
			h.clk.Advance(5 * time.Second)
			h.sim.Put("contacts", map[string]any{"id": "x", "v": 4})
			h.clk.Advance(time.Minute)
			h.poll(inst, "contacts")
			h.clk.Advance(time.Minute)
			h.poll(inst, "contacts")
			return 3 // v1, v3 (v2 was never visible to a poll), v4
		}},
		{"record appears late inside the lookback", 0, func(h *harness, inst *instances.Instance) int {
			h.sim.Put("contacts", map[string]any{"id": "early"})
			h.clk.Advance(5 * time.Second)
			h.sim.Put("contacts", map[string]any{"id": "late"})
			h.sim.Hide("contacts", "late")
			h.poll(inst, "contacts")
			h.clk.Advance(30 * time.Second)
			h.sim.Reveal("contacts", "late") // updated 30 s before this poll's watermark
			h.poll(inst, "contacts")
			h.clk.Advance(30 * time.Second)
			h.poll(inst, "contacts")
			return 2
		}},
		{"vendor clock behind pollwire's", -5 * time.Second, func(h *harness, inst *instances.Instance) int {
			h.poll(inst, "contacts")
			// Written right after the poll, stamped 5 s before it by the vendor.
			h.clk.Advance(time.Second)
			h.sim.Put("contacts", map[string]any{"id": "skewed"})
			h.clk.Advance(time.Minute)
			h.poll(inst, "contacts")
			h.clk.Advance(time.Minute)
			h.poll(inst, "contacts")
			return 1
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.skew = tc.skew
			inst := h.provision("b", "contacts")
			h.clk.Advance(10 * time.Second)
			want := tc.run(h, inst)
			if st := h.status(inst, "contacts"); st.LastError != "" {
				t.Fatalf("poller error: %s", st.LastError)
			}
			t.Cleanup(func() {
				if t.Failed() {
					es, _ := h.st.ListEntries(context.Background(), inst.ID, store.EntryFilter{}, 0, 100)
					for _, e := range es {
						t.Logf("entry %s status=%s attempts=%d next=%v err=%s", e.EventID, e.Status, e.Attempts, e.NextAttempt, e.LastError)
					}
				}
			})
			got := h.sink.waitEvents(t, want)
			counts := byChange(got)
			if len(counts) != want {
				t.Fatalf("delivered %d distinct changes %v, want %d", len(counts), counts, want)
			}
			for p, n := range counts {
				if n != 1 {
					t.Fatalf("change %v delivered %d times", p, n)
				}
			}
			if st := h.status(inst, "contacts"); st.LastError != "" {
				t.Fatalf("poller error: %s", st.LastError)
			}
		})
	}
}

func TestVendorFaultsKeepWatermark(t *testing.T) {
	faults := []struct {
		name  string
		fault rest.Fault
		want  string
	}{
		{"500", rest.Fault{Status: 500, Body: `{"message":"database on fire"}`}, "database on fire"},
		{"429 with Retry-After", rest.Fault{Status: 429, RetryAfter: "120", Body: `{"message":"slow down"}`}, "429"},
		{"invalid JSON", rest.Fault{Status: 200, Body: `{"data": [`}, "invalid JSON"},
		{"missing id", rest.Fault{Status: 200, Body: `{"data":[{"name":"no id","updated_at":"2026-03-01T12:00:30.000Z"}],"has_more":false}`}, `no id at "id"`},
		{"timeout", rest.Fault{Delay: 5 * time.Second}, "timeout"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			h := newHarness(t)
			h.eng.cfg.VendorClient = &http.Client{Timeout: 200 * time.Millisecond}
			bad := h.provision("bad", "contacts")
			good := h.provision("good", "contacts")
			h.clk.Advance(10 * time.Second)
			before := h.status(bad, "contacts").Watermark
			h.sim.Put("contacts", map[string]any{"id": "r1"})
			h.clk.Advance(time.Minute)
			h.sim.Fail("contacts", 1, f.fault)
			h.poll(bad, "contacts")
			st := h.status(bad, "contacts")
			if !st.Watermark.Equal(before) {
				t.Fatalf("watermark moved from %v to %v after a fault", before, st.Watermark)
			}
			if !strings.Contains(st.LastError, f.want) || st.Failures != 1 {
				t.Fatalf("status %+v, want error containing %q", st, f.want)
			}
			// The other instance's poller is not disturbed.
			h.poll(good, "contacts")
			if gs := h.status(good, "contacts"); gs.LastError != "" || !gs.Watermark.Equal(h.clk.Now()) {
				t.Fatalf("good poller %+v", gs)
			}
			// The faulty one recovers and delivers the change it missed.
			h.poll(bad, "contacts")
			if st := h.status(bad, "contacts"); st.LastError != "" || !st.Watermark.Equal(h.clk.Now()) {
				t.Fatalf("bad poller did not recover: %+v", st)
			}
			got := h.sink.waitEvents(t, 2)
			counts := byChange(got)
			if len(counts) != 1 {
				t.Fatalf("changes %v", counts)
			}
			for p, n := range counts {
				if n != 2 || p.id != "r1" {
					t.Fatalf("r1 should reach each instance once: %v", counts)
				}
			}
		})
	}
}

func TestInstanceChangesTakeEffectAtOnce(t *testing.T) {
	h := newHarness(t)
	inst := h.provision("life", "contacts", "deals")
	keys := func() int { return len(h.eng.sched.Keys(inst.ID)) }
	if keys() != 2 {
		t.Fatalf("%d pollers scheduled, want 2", keys())
	}
	s, err := inst.Settings(registry.Default())
	if err != nil {
		t.Fatal(err)
	}
	disabled := inst.Clone()
	disabled.Disabled = true
	h.eng.Apply(disabled, s)
	if keys() != 0 {
		t.Fatal("a disabled instance still has scheduled pollers")
	}
	if err := h.eng.RunNow(inst.ID, "contacts"); err == nil {
		t.Fatal("RunNow of a disabled instance's poller succeeded")
	}
	h.eng.Apply(inst, s)
	if keys() != 2 {
		t.Fatal("re-enabling did not schedule the pollers again")
	}
	// Dropping a resource from the configuration stops its poller.
	one := *s
	one.Pollers = s.Pollers[:1]
	h.eng.Apply(inst, &one)
	if ks := h.eng.sched.Keys(inst.ID); len(ks) != 1 || ks[0].Resource != one.Pollers[0].Resource {
		t.Fatalf("keys %v after removing a resource", ks)
	}
	h.eng.Remove(inst.ID)
	if keys() != 0 || len(h.eng.Pollers(inst.ID)) != 0 {
		t.Fatal("a removed instance still has pollers")
	}
}

// pausingSource answers the first poll with a spent quota, then delegates.
type pausingSource struct {
	next  source.Source
	until time.Time
	calls int
}

func (p *pausingSource) Poll(ctx context.Context, req *source.Request, emit func(source.Record) error) error {
	p.calls++
	if p.calls == 1 {
		return &source.PausedError{Until: p.until, Reason: "daily limit spent"}
	}
	return p.next.Poll(ctx, req, emit)
}

func TestSpentQuotaPausesUntilReset(t *testing.T) {
	h := newHarness(t)
	ps := &pausingSource{next: rest.New(), until: t0.Add(3 * time.Hour)}
	h.eng.cfg.Sources = map[string]source.Source{"rest": ps}
	inst := h.provision("quota", "contacts")
	h.clk.Advance(time.Minute)
	h.sim.Put("contacts", map[string]any{"id": "waiting"})
	h.clk.Advance(time.Minute)
	w0 := h.status(inst, "contacts").Watermark
	h.poll(inst, "contacts")
	st := h.status(inst, "contacts")
	if st.PausedUntil == nil || !st.PausedUntil.Equal(ps.until) || !strings.Contains(st.LastError, "daily limit") || st.Failures != 0 || !st.Watermark.Equal(w0) {
		t.Fatalf("status after a spent quota: %+v", st)
	}
	// While paused, polls do not call the vendor.
	h.clk.Advance(time.Hour)
	h.poll(inst, "contacts")
	if ps.calls != 1 {
		t.Fatalf("vendor called %d times while paused", ps.calls)
	}
	// After the reset it polls by itself and delivers what waited.
	h.clk.Set(ps.until.Add(time.Second))
	h.poll(inst, "contacts")
	got := h.sink.waitEvents(t, 1)
	if c := byChange(got); len(c) != 1 {
		t.Fatalf("after the reset delivered %v", c)
	}
	if st := h.status(inst, "contacts"); st.PausedUntil != nil || st.LastError != "" {
		t.Fatalf("status after the reset: %+v", st)
	}
}

// rotatingSource rotates a secret through SaveSecrets.
type rotatingSource struct{ next source.Source }

func (r rotatingSource) Poll(ctx context.Context, req *source.Request, emit func(source.Record) error) error {
	if err := req.SaveSecrets(ctx, map[string]string{"bearer.token": "rotated"}); err != nil {
		return err
	}
	return r.next.Poll(ctx, req, emit)
}

func TestSaveSecretsPersistsRotatedCredentials(t *testing.T) {
	h := newHarness(t)
	h.eng.cfg.Sources = map[string]source.Source{"rest": rotatingSource{rest.New()}}
	inst := h.provision("rot", "contacts")
	h.clk.Advance(time.Minute)
	h.poll(inst, "contacts")
	stored, err := h.st.GetInstance(context.Background(), inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Secrets["bearer.token"] != "rotated" || stored.Secrets["event.notification.signature.key"] != "s3cret-rot" {
		t.Fatalf("stored secrets %v", stored.Secrets)
	}
	if h.eng.SignatureKey(inst.ID) != "s3cret-rot" {
		t.Fatal("the running instance lost its other secrets")
	}
}

// TestPollerAddedAfterPushesStartsNow: a resource that was only pushed to
// has seen ids but no watermark; when a poller is added for it, it starts
// at the time it was added, keeping the pushed ids, instead of reading the
// vendor's whole history.
func TestPollerAddedAfterPushesStartsNow(t *testing.T) {
	h := newHarness(t)
	inst := h.provision("late-poller", "contacts")
	s, err := inst.Settings(registry.Default())
	if err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Hour)
	pushedAt := h.clk.Now().Add(-time.Second)
	n, err := h.eng.AcceptWebhook(context.Background(), inst, s, []source.Change{{Resource: "deals", Type: Created, ObjectID: "d1", Date: pushedAt, Raw: []byte(`{"id":"d1"}`)}})
	if err != nil || n != 1 {
		t.Fatalf("push: %d, %v", n, err)
	}
	h.sink.waitEvents(t, 1)
	// PATCH adds a deals poller an hour after creation.
	later := inst.Clone()
	later.UpdatedAt = h.clk.Now()
	p := s.Pollers[0]
	p.Resource = "deals"
	withDeals := *s
	withDeals.Pollers = append([]instances.Poller{}, s.Pollers...)
	withDeals.Pollers = append(withDeals.Pollers, p)
	h.eng.Apply(later, &withDeals)
	st := h.status(later, "deals")
	if !st.Watermark.Equal(h.clk.Now()) {
		t.Fatalf("the new poller starts at %v, want now (%v)", st.Watermark, h.clk.Now())
	}
	// The pushed change is still remembered: polling it again is no event.
	h.sim.PutAt("deals", map[string]any{"id": "d1"}, pushedAt)
	h.poll(later, "deals")
	if got := byChange(h.sink.all()); len(got) != 1 {
		t.Fatalf("d1 delivered again by the poller: %v", got)
	}
}
