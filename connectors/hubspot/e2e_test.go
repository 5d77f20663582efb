package hubspot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pollwire/pollwire/connectors/hubspot"
	"github.com/pollwire/pollwire/connectors/registry"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/engine"
	"github.com/pollwire/pollwire/runtime/scheduler"
	"github.com/pollwire/pollwire/runtime/secrets"
	"github.com/pollwire/pollwire/runtime/store"
)

// The end-to-end tests run the real engine, store and dispatcher against
// the simulator on loopback, with the connector's Source, on a fake clock:
// what reaches the callback is what a user would receive.

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// event is one event as the callback received it.
type event struct {
	EventType  string `json:"eventType"`
	ObjectType string `json:"objectType"`
	ObjectID   string `json:"objectId"`
	Date       string `json:"date"`
}

type notification struct {
	Message struct {
		EventID string                       `json:"eventId"`
		Events  []event                      `json:"events"`
		Raw     map[string][]json.RawMessage `json:"raw"`
	} `json:"message"`
}

// sink is the callback URL.
type sink struct {
	t    *testing.T
	mu   sync.Mutex
	got  []notification
	note chan struct{}
	srv  *httptest.Server
}

func newSink(t *testing.T) *sink {
	s := &sink{t: t, note: make(chan struct{}, 1)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n notification
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("callback body is not JSON: %v", err)
		}
		s.mu.Lock()
		s.got = append(s.got, n)
		s.mu.Unlock()
		select {
		case s.note <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) events() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event
	for _, n := range s.got {
		if len(n.Message.Events) != len(n.Message.Raw[firstKey(n.Message.Raw)]) {
			s.t.Errorf("notification %s: %d events, %d raw records", n.Message.EventID, len(n.Message.Events), len(n.Message.Raw[firstKey(n.Message.Raw)]))
		}
		out = append(out, n.Message.Events...)
	}
	return out
}

func firstKey(m map[string][]json.RawMessage) string {
	for k := range m {
		return k
	}
	return ""
}

// waitEvents waits (real time, bounded) until n events arrived.
func (s *sink) waitEvents(n int) []event {
	s.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if got := s.events(); len(got) >= n {
			return got
		}
		select {
		case <-s.note:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			s.t.Fatalf("waited for %d events, have %d", n, len(s.events()))
		}
	}
}

type harness struct {
	t    *testing.T
	clk  *clock.Fake
	st   *store.Bolt
	eng  *engine.Engine
	disp *delivery.Dispatcher
	reg  *prometheus.Registry
	sim  *hubspot.Simulator
	vsrv *httptest.Server
	sink *sink

	mu     sync.Mutex
	status map[int]int         // answers of the simulator by status
	hook   func(*http.Request) // runs before the simulator answers
}

func newHarness(t *testing.T, opts hubspot.SimOptions) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(t0), reg: prometheus.NewRegistry(), status: map[int]int{}}
	opts.Now = h.clk.Now
	h.sim = hubspot.NewSimulator(opts)
	h.vsrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		hook := h.hook
		h.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		h.sim.ServeHTTP(rec, r)
		h.mu.Lock()
		h.status[rec.status]++
		h.mu.Unlock()
	}))
	t.Cleanup(h.vsrv.Close)
	h.sink = newSink(t)
	sealer, err := secrets.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if h.st, err = store.Open(t.TempDir()+"/pollwire.db", sealer); err != nil {
		t.Fatal(err)
	}
	// The Source waits on the engine's fake clock, moving it: the simulator
	// sees the time a rate limit made it wait.
	src := hubspot.NewWithOptions(hubspot.Options{
		Now:             h.clk.Now,
		Sleep:           func(ctx context.Context, d time.Duration) error { h.clk.Advance(d); return ctx.Err() },
		SearchPerSecond: 50,
	})
	var eng *engine.Engine
	h.disp = delivery.New(delivery.Config{
		Store: h.st, Clock: h.clk, Client: delivery.NewClient(true),
		Keys: func(id int64) string { return eng.SignatureKey(id) },
	})
	eng = engine.New(engine.Config{
		Store: h.st, Catalog: registry.Default(), Sources: map[string]source.Source{hubspot.Key: src},
		Outbox: h.disp, Clock: h.clk, Registerer: h.reg, ServerLocation: time.UTC,
	})
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

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (h *harness) answers(status int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status[status]
}

func (h *harness) setHook(f func(*http.Request)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hook = f
}

// hubPoller is the poller configuration the README recommends.
func hubPoller(resource string, extra map[string]any) map[string]any {
	p := map[string]any{
		"url": "/hubs/crm/" + resource + "?where=lastmodifieddate>='${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}'",
		"datesConfiguration": map[string]any{
			"updatedDateField": "updatedAt",
			"createdDateField": "createdAt",
		},
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// provision creates a HubSpot instance through the same validation as the
// admin API and starts its pollers.
func (h *harness) provision(name string, cfg map[string]any, pollers map[string]any) *instances.Instance {
	h.t.Helper()
	conf := map[string]any{
		"base.url":                        h.vsrv.URL,
		"event.notification.enabled":      true,
		"event.notification.callback.url": h.sink.srv.URL + "/hooks/" + name,
		"event.notification.batch.size":   100,
		// Tests poll by hand unless they set a schedule.
		"event.poller.refresh_interval": "cron:0 0 1 1 *",
		"event.poller.configuration":    pollers,
	}
	for k, v := range cfg {
		conf[k] = v
	}
	body, _ := json.Marshal(map[string]any{"connector": map[string]any{"key": hubspot.Key}, "name": name, "configuration": conf})
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

// polls is how many polls the engine finished, whatever their outcome.
func (h *harness) polls() float64 {
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "pollwire_polls_total" {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// waitPolls waits (real time, bounded) until more than before polls ended
// and none of inst's pollers runs, then for deliveries to settle.
func (h *harness) waitPolls(inst *instances.Instance, before float64) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		running := false
		for _, p := range h.eng.Pollers(inst.ID) {
			running = running || p.Running
		}
		if h.polls() > before && !running {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no poll ended (polls %v, before %v)", h.polls(), before)
		}
		time.Sleep(time.Millisecond)
	}
	h.settle()
}

// poll runs one poll of each resource now, one after the other.
func (h *harness) poll(inst *instances.Instance, resources ...string) {
	h.t.Helper()
	for _, res := range resources {
		before := h.polls()
		if err := h.eng.RunNow(inst.ID, res); err != nil {
			h.t.Fatal(err)
		}
		h.waitPolls(inst, before)
		if st := h.pollerStatus(inst, res); st.LastError != "" && st.PausedUntil == nil {
			h.t.Fatalf("poll %s: %s", res, st.LastError)
		}
	}
}

// settle waits until the dispatcher holds nothing, so moving the fake clock
// next cannot time out an attempt in flight.
func (h *harness) settle() {
	h.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); len(h.disp.Depth()) > 0; {
		if time.Now().After(deadline) {
			h.t.Fatalf("deliveries did not settle: %v", h.disp.Depth())
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) pollerStatus(inst *instances.Instance, resource string) engine.PollerStatus {
	h.t.Helper()
	for _, p := range h.eng.Pollers(inst.ID) {
		if p.Resource == resource {
			return p
		}
	}
	h.t.Fatalf("no poller %s", resource)
	return engine.PollerStatus{}
}

// change is an event the test expects: its type, resource, object and date.
type change struct {
	typ, resource, id string
	date              time.Time
}

func (c change) String() string {
	return fmt.Sprintf("%s %s/%s@%s", c.typ, c.resource, c.id, c.date.UTC().Format(time.RFC3339Nano))
}

// checkExactlyOnce compares the delivered events with want: each expected
// change delivered once, nothing else.
func checkExactlyOnce(t *testing.T, got []event, want []change) {
	t.Helper()
	counts := map[string]int{}
	for _, ev := range got {
		d, err := time.Parse(time.RFC3339Nano, ev.Date)
		if err != nil {
			t.Fatalf("event date %q: %v", ev.Date, err)
		}
		counts[change{ev.EventType, ev.ObjectType, ev.ObjectID, d}.String()]++
	}
	missing, extra := 0, 0
	for _, c := range want {
		switch n := counts[c.String()]; {
		case n == 0:
			if missing++; missing <= 5 {
				t.Errorf("not delivered: %s", c)
			}
		case n > 1:
			t.Errorf("delivered %d times: %s", n, c)
		}
		delete(counts, c.String())
	}
	for c, n := range counts {
		if extra++; extra <= 5 {
			t.Errorf("unexpected event (%d times): %s", n, c)
		}
	}
	if missing > 0 || extra > 0 || len(got) != len(want) {
		t.Fatalf("%d events delivered for %d changes: %d missing, %d unexpected", len(got), len(want), missing, extra)
	}
}

var resourceTypes = map[string]string{"contacts": "contacts", "accounts": "companies", "opportunities": "deals"}

// TestEndToEndMixedChangesExactlyOnce: 1,000 creates, updates and archives
// across contacts, accounts and opportunities, in twenty bursts with a poll
// of each resource after each, reach the callback once each with the right
// event type, object type and id. Each poll re-reads the last minute (the
// lookback), so most records are read several times.
func TestEndToEndMixedChangesExactlyOnce(t *testing.T) {
	h := newHarness(t, hubspot.SimOptions{PrivateAppToken: "pat-1", SearchPerSecond: 100, TenSecondlyLimit: 150})
	pollers := map[string]any{}
	for res := range resourceTypes {
		pollers[res] = hubPoller(res, map[string]any{"pageSize": 30})
	}
	inst := h.provision("mixed", map[string]any{hubspot.KeyAccessToken: "pat-1"}, pollers)
	h.clk.Advance(time.Second)

	rng := rand.New(rand.NewPCG(1, 2))
	resources := []string{"accounts", "contacts", "opportunities"}
	live := map[string][]string{} // resource → ids not archived
	var want []change
	for burst := 0; burst < 20; burst++ {
		touched := map[string]bool{} // one change per record per burst: each is visible to a poll
		for done := 0; done < 50; {
			res := resources[rng.IntN(len(resources))]
			typ := resourceTypes[res]
			h.clk.Advance(time.Duration(1+rng.IntN(20)) * time.Millisecond)
			ids := live[res]
			switch op := rng.IntN(10); {
			case op < 5 || len(ids) < 5:
				o := h.sim.Create(typ, map[string]string{"name": fmt.Sprint("n", burst, done)})
				live[res] = append(live[res], o.ID)
				touched[o.ID] = true
				want = append(want, change{"CREATED", res, o.ID, o.UpdatedAt})
			case op < 8:
				id := ids[rng.IntN(len(ids))]
				if touched[id] {
					continue
				}
				o, _ := h.sim.Update(typ, id, map[string]string{"name": fmt.Sprint("u", burst, done)})
				touched[id] = true
				want = append(want, change{"UPDATED", res, id, o.UpdatedAt})
			default:
				i := rng.IntN(len(ids))
				if touched[ids[i]] {
					continue
				}
				o, _ := h.sim.Archive(typ, ids[i])
				touched[ids[i]] = true
				live[res] = append(ids[:i:i], ids[i+1:]...)
				want = append(want, change{"DELETED", res, o.ID, o.ArchivedAt})
			}
			done++
		}
		h.clk.Advance(2 * time.Second)
		h.poll(inst, resources...)
	}
	if len(want) != 1000 {
		t.Fatalf("the test made %d changes", len(want))
	}
	got := h.sink.waitEvents(len(want))
	checkExactlyOnce(t, got, want)
	kinds := map[string]int{}
	for _, c := range want {
		kinds[c.typ]++
	}
	if kinds["CREATED"] == 0 || kinds["UPDATED"] == 0 || kinds["DELETED"] == 0 {
		t.Fatalf("changes by type %v", kinds)
	}
	if n := h.answers(429); n != 0 {
		t.Fatalf("%d requests refused for rate limits", n)
	}
	t.Logf("changes %v; %d simulator requests", kinds, h.sim.Requests())
}

// TestEndToEndTwelveThousandChangesInOneWindow: more changes in one poll
// window than one HubSpot search can page through (10,000).
func TestEndToEndTwelveThousandChangesInOneWindow(t *testing.T) {
	h := newHarness(t, hubspot.SimOptions{PrivateAppToken: "pat"})
	inst := h.provision("bulk", map[string]any{hubspot.KeyAccessToken: "pat", "event.notification.batch.size": 1000},
		map[string]any{"contacts": hubPoller("contacts", map[string]any{"pageSize": 200, "deletions": false})})
	h.clk.Advance(time.Second)
	var want []change
	for i := 0; i < 12_000; i++ {
		if i%7 == 0 { // bulk imports stamp runs of records with one millisecond
			h.clk.Advance(time.Millisecond)
		}
		o := h.sim.Create("contacts", map[string]string{"email": fmt.Sprintf("c%d@example.com", i)})
		want = append(want, change{"CREATED", "contacts", o.ID, o.UpdatedAt})
	}
	h.clk.Advance(10 * time.Second)
	h.poll(inst, "contacts")
	checkExactlyOnce(t, h.sink.waitEvents(len(want)), want)
	if n := h.answers(400); n != 0 {
		t.Fatalf("%d searches refused (paging past 10,000?)", n)
	}
}

// TestEndToEndLateIndexedRecordsAreNotMissed: search shows changes 20 s
// late, shorter than the 1-minute lookback; polls every 30 s still deliver
// each change once, the late ones at the poll after. pollDelay set to the
// lag keeps a record created before a poll but found after it CREATED.
func TestEndToEndLateIndexedRecordsAreNotMissed(t *testing.T) {
	h := newHarness(t, hubspot.SimOptions{PrivateAppToken: "pat", IndexLag: 20 * time.Second})
	inst := h.provision("lag", map[string]any{hubspot.KeyAccessToken: "pat"},
		map[string]any{"contacts": hubPoller("contacts", map[string]any{"pollDelay": 20})})
	h.clk.Advance(time.Second)
	var want []change
	var ids []string
	var createdBy []int // len(ids) at the end of each round
	updated := 0
	lateAtPoll := 0
	for round := 0; round < 10; round++ {
		// Changes right up to the poll: the last 20 s of them are not in
		// search yet when it runs.
		for i := 0; i < 30; i++ {
			h.clk.Advance(time.Second)
			// Updates touch records two rounds old, once each: an update
			// superseded before it is indexed would be invisible to any
			// poller, and is not what this test is about.
			if i%3 == 2 && round >= 2 && updated < createdBy[round-2] {
				o, _ := h.sim.Update("contacts", ids[updated], map[string]string{"firstname": fmt.Sprint(round, i)})
				updated++
				want = append(want, change{"UPDATED", "contacts", o.ID, o.UpdatedAt})
				continue
			}
			o := h.sim.Create("contacts", nil)
			ids = append(ids, o.ID)
			want = append(want, change{"CREATED", "contacts", o.ID, o.UpdatedAt})
		}
		createdBy = append(createdBy, len(ids))
		before := len(h.sink.events())
		h.poll(inst, "contacts")
		if round > 0 && len(h.sink.events())-before > 10 {
			lateAtPoll++ // found more than the 10 s of changes indexed in time
		}
	}
	h.clk.Advance(time.Minute)
	h.poll(inst, "contacts")
	checkExactlyOnce(t, h.sink.waitEvents(len(want)), want)
	if lateAtPoll == 0 || updated == 0 {
		t.Fatalf("no poll picked up late-indexed changes (%d), %d updates: the test did not lag", lateAtPoll, updated)
	}
}

// TestEndToEndTokenExpiresMidPoll: OAuth with two-second access tokens and
// rotating refresh tokens; tokens are renewed early as the poll's pacing
// moves the clock, and one is revoked between two pages. Every change
// arrives once, and the store ends with the refresh token HubSpot accepts.
func TestEndToEndTokenExpiresMidPoll(t *testing.T) {
	h := newHarness(t, hubspot.SimOptions{
		ClientID: "client", ClientSecret: "secret", RefreshToken: "refresh-0",
		AccessTokenTTL: 2 * time.Second, RotateRefreshTokens: true, SearchPerSecond: 100,
	})
	inst := h.provision("oauth", map[string]any{
		hubspot.KeyAuthType: hubspot.AuthOAuth2, hubspot.KeyClientID: "client",
		hubspot.KeyClientSecret: "secret", hubspot.KeyRefreshToken: "refresh-0",
	}, map[string]any{"contacts": hubPoller("contacts", map[string]any{"pageSize": 20})})
	h.clk.Advance(time.Second)
	var want []change
	for i := 0; i < 400; i++ {
		h.clk.Advance(7 * time.Millisecond)
		o := h.sim.Create("contacts", nil)
		want = append(want, change{"CREATED", "contacts", o.ID, o.UpdatedAt})
	}
	// Each search takes 150 ms of the fake clock (HubSpot's answer time),
	// so the 2 s tokens run out while the poll pages; and HubSpot revokes
	// the token after the fifth page.
	var searches int
	var mu sync.Mutex
	h.setHook(func(r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/search") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if searches++; searches == 5 {
			h.sim.ExpireAccessTokens()
		}
		h.clk.Advance(150 * time.Millisecond)
	})
	h.clk.Advance(time.Second)
	h.poll(inst, "contacts")
	checkExactlyOnce(t, h.sink.waitEvents(len(want)), want)
	if h.answers(401) != 1 {
		t.Fatalf("%d answers 401, want the one revocation", h.answers(401))
	}
	if h.sim.TokenGrants() < 3 {
		t.Fatalf("%d tokens granted over a poll longer than three lifetimes", h.sim.TokenGrants())
	}
	stored, err := h.st.GetInstance(context.Background(), inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Secrets[hubspot.KeyRefreshToken]; got != h.sim.RefreshToken() || got == "refresh-0" {
		t.Fatalf("stored refresh token %q, HubSpot accepts %q", got, h.sim.RefreshToken())
	}
	// The next poll goes on with the stored token: nothing new, nothing again.
	h.setHook(nil)
	h.clk.Advance(time.Minute)
	h.poll(inst, "contacts")
	if n := len(h.sink.events()); n != len(want) {
		t.Fatalf("%d events after a quiet poll, want %d", n, len(want))
	}
}

// TestEndToEndDailyLimitPausesAndResumes: the daily limit runs out; the
// instance's pollers show the pause until midnight, poll nothing while it
// lasts, and resume by themselves afterwards with every change delivered.
func TestEndToEndDailyLimitPausesAndResumes(t *testing.T) {
	h := newHarness(t, hubspot.SimOptions{PrivateAppToken: "pat", DailyLimit: 7})
	inst := h.provision("daily", map[string]any{hubspot.KeyAccessToken: "pat", "event.poller.refresh_interval": "10m"},
		map[string]any{"contacts": hubPoller("contacts", nil)})
	// The scheduler polls at its own slots; the test moves the clock to
	// just before one, writes, then onto it, and waits for that poll.
	every := 10 * time.Minute
	off := scheduler.Offset(scheduler.Key{Instance: inst.ID, Resource: "contacts"}, every)
	nextSlot := func(t time.Time) time.Time {
		n := t.UnixNano() - int64(off)
		return time.Unix(0, n-n%int64(every)+int64(every)+int64(off)).UTC()
	}
	var want []change
	cycle := func() {
		slot := nextSlot(h.clk.Now())
		h.clk.Set(slot.Add(-30 * time.Second))
		o := h.sim.Create("contacts", nil)
		want = append(want, change{"CREATED", "contacts", o.ID, o.UpdatedAt})
		before := h.polls()
		h.clk.Set(slot)
		h.waitPolls(inst, before)
	}
	// Polls cost two requests (search, archived listing): three fit in the
	// day's seven, and the fourth's search leaves none.
	for i := 0; i < 4; i++ {
		cycle()
	}
	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	st := h.pollerStatus(inst, "contacts")
	if st.PausedUntil == nil || !st.PausedUntil.Equal(midnight) || !strings.Contains(st.PauseReason, "daily") || st.Failures != 0 {
		t.Fatalf("status after the daily limit: %+v", st)
	}
	w := st.Watermark
	requests := h.sim.Requests()
	for i := 0; i < 5; i++ {
		cycle()
	}
	if h.sim.Requests() != requests {
		t.Fatalf("%d requests while paused", h.sim.Requests()-requests)
	}
	if st := h.pollerStatus(inst, "contacts"); !st.Watermark.Equal(w) || st.PausedUntil == nil {
		t.Fatalf("while paused: watermark %v → %v, status %+v", w, st.Watermark, st)
	}
	// Past midnight the next slot polls by itself and delivers what waited.
	h.clk.Set(midnight)
	cycle()
	checkExactlyOnce(t, h.sink.waitEvents(len(want)), want)
	if st := h.pollerStatus(inst, "contacts"); st.PausedUntil != nil || st.LastError != "" || st.Watermark.Before(midnight) {
		t.Fatalf("status after the reset: %+v", st)
	}
	if h.answers(429) != 0 {
		t.Fatalf("%d requests refused: the pause came too late", h.answers(429))
	}
}
