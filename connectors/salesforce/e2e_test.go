package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/engine"
	"github.com/pollwire/pollwire/runtime/secrets"
	"github.com/pollwire/pollwire/runtime/store"
)

// The end-to-end tests run pollwire's engine, store and delivery against
// the simulator over loopback, as runtime/engine's tests do with the rest
// connector: polls go through the scheduler (RunNow, or the schedule as the
// fake clock moves) and every event is counted at a callback.

// event is one event as the callback saw it.
type event struct {
	EventType  string `json:"eventType"`
	ObjectType string `json:"objectType"`
	ObjectID   string `json:"objectId"`
	Date       string `json:"date"`
}

// callback records the notifications it receives.
type callback struct {
	mu     sync.Mutex
	events []event
	raws   map[string][]json.RawMessage // by "type/id"
	note   chan struct{}
	srv    *httptest.Server
}

func newCallback(t *testing.T) *callback {
	c := &callback{note: make(chan struct{}, 1), raws: map[string][]json.RawMessage{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m struct {
			Message struct {
				Events []event                      `json:"events"`
				Raw    map[string][]json.RawMessage `json:"raw"`
			} `json:"message"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("callback body: %v", err)
		}
		c.mu.Lock()
		for i, ev := range m.Message.Events {
			c.events = append(c.events, ev)
			if raws := m.Message.Raw[ev.ObjectType]; i < len(raws) {
				k := ev.ObjectType + "/" + ev.ObjectID
				c.raws[k] = append(c.raws[k], raws[i])
			}
		}
		c.mu.Unlock()
		select {
		case c.note <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callback) all() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event(nil), c.events...)
}

// wait waits (real time, bounded) until n events arrived.
func (c *callback) wait(t *testing.T, n int) []event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		got := c.all()
		if len(got) >= n {
			return got
		}
		select {
		case <-c.note:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waited for %d events, have %d", n, len(got))
		}
	}
}

type harness struct {
	t    *testing.T
	clk  *clock.Fake
	st   *store.Bolt
	eng  *engine.Engine
	disp *delivery.Dispatcher
	org  *testOrg
	cb   *callback
	src  *Source
}

func newHarness(t *testing.T, opts SimOptions) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(t0), cb: newCallback(t)}
	opts.Now = h.clk.Now
	h.org = newTestOrg(t, opts)
	h.src = New(WithClock(h.clk.Now))
	sealer, err := secrets.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if h.st, err = store.Open(t.TempDir()+"/pollwire.db", sealer); err != nil {
		t.Fatal(err)
	}
	var eng *engine.Engine
	h.disp = delivery.New(delivery.Config{Store: h.st, Clock: h.clk, Client: delivery.NewClient(true),
		Keys: func(id int64) string { return eng.SignatureKey(id) }})
	eng = engine.New(engine.Config{
		Store: h.st, Catalog: connectors.List{Spec}, Sources: map[string]source.Source{Key: h.src},
		Outbox: h.disp, Clock: h.clk, VendorClient: &http.Client{Timeout: 10 * time.Second},
	})
	h.eng = eng
	if err := h.disp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.Start(context.Background()); err != nil {
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

// provision creates the instance of testdata/e2e/instance.json with only
// the resources given, through the same validation as the admin API.
func (h *harness) provision(refresh string, resources ...string) *instances.Instance {
	h.t.Helper()
	raw, err := os.ReadFile("testdata/e2e/instance.json")
	if err != nil {
		h.t.Fatal(err)
	}
	pk, _ := json.Marshal(pkcs1PEM(testKey()))
	body := strings.NewReplacer(
		"{{CONSUMER_KEY}}", testConsumerKey, "{{USERNAME}}", testUsername, "{{PRIVATE_KEY}}", string(pk[1:len(pk)-1]),
		"{{LOGIN_URL}}", h.org.srv.URL, "{{CALLBACK_URL}}", h.cb.srv.URL+"/hooks", "{{REFRESH_INTERVAL}}", refresh,
	).Replace(string(raw))
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		h.t.Fatal(err)
	}
	pc := doc["configuration"].(map[string]any)["event.poller.configuration"].(map[string]any)
	keep := map[string]bool{}
	for _, r := range resources {
		keep[r] = true
	}
	for r := range pc {
		if !keep[r] {
			delete(pc, r)
		}
	}
	b, _ := json.Marshal(doc)
	req, err := instances.DecodeRequest(b)
	if err != nil {
		h.t.Fatal(err)
	}
	inst, s, err := instances.New(req, connectors.List{Spec}, h.clk.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.CreateInstance(context.Background(), inst); err != nil {
		h.t.Fatal(err)
	}
	h.eng.Apply(inst, s)
	return inst
}

func (h *harness) status(inst *instances.Instance, resource string) engine.PollerStatus {
	for _, p := range h.eng.Pollers(inst.ID) {
		if p.Resource == resource {
			return p
		}
	}
	h.t.Fatalf("no poller %s", resource)
	return engine.PollerStatus{}
}

// pollNow runs the pollers through the scheduler and waits for them.
func (h *harness) pollNow(inst *instances.Instance, resources ...string) {
	h.t.Helper()
	for _, r := range resources {
		if err := h.eng.RunNow(inst.ID, r); err != nil {
			h.t.Fatal(err)
		}
	}
	h.waitRuns(inst, resources...)
}

// waitRuns waits until the pollers' runs due by now have finished: a
// launched run moves the poller's next run past now.
func (h *harness) waitRuns(inst *instances.Instance, resources ...string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, r := range resources {
		for {
			st := h.status(inst, r)
			if !st.Running && st.NextRun.After(h.clk.Now()) {
				// The scheduler arms its timer for the next run once it is
				// done; moving the clock before would skip a run.
				if !h.clk.WaitArmed(st.NextRun, 5*time.Second) {
					h.t.Fatalf("%s: the scheduler never armed its timer for %v", r, st.NextRun)
				}
				break
			}
			if time.Now().After(deadline) {
				h.t.Fatalf("%s: the poll did not finish: %+v", r, st)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for start := time.Now(); len(h.disp.Depth()) > 0; time.Sleep(time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			h.t.Fatalf("deliveries did not settle: %v", h.disp.Depth())
		}
	}
}

// changes tracks the changes a test makes and the events they must give.
type changes struct {
	want map[event]bool
}

func (c *changes) add(typ, resource, id string, at time.Time) {
	if c.want == nil {
		c.want = map[event]bool{}
	}
	c.want[event{EventType: typ, ObjectType: resource, ObjectID: id, Date: at.UTC().Format(time.RFC3339Nano)}] = true
}

// check asserts that got holds every wanted event exactly once and nothing
// else.
func (c *changes) check(t *testing.T, got []event) {
	t.Helper()
	seen := map[event]int{}
	for _, ev := range got {
		seen[ev]++
	}
	var missing, extra, repeated []string
	for ev := range c.want {
		if seen[ev] == 0 {
			missing = append(missing, fmt.Sprint(ev))
		}
	}
	for ev, n := range seen {
		switch {
		case !c.want[ev]:
			extra = append(extra, fmt.Sprint(ev))
		case n > 1:
			repeated = append(repeated, fmt.Sprint(ev))
		}
	}
	if len(missing)+len(extra)+len(repeated) > 0 {
		clipList := func(l []string) []string { return l[:min(len(l), 5)] }
		t.Fatalf("%d events for %d changes: %d missing %v, %d unexpected %v, %d repeated %v",
			len(got), len(c.want), len(missing), clipList(missing), len(extra), clipList(extra), len(repeated), clipList(repeated))
	}
}

var e2eObjects = map[string]struct {
	sobject string
	fields  func(i int) map[string]any
}{
	"contacts": {"Contact", func(i int) map[string]any {
		return map[string]any{"FirstName": "C", "LastName": fmt.Sprint("contact ", i)}
	}},
	"accounts": {"Account", func(i int) map[string]any { return map[string]any{"Name": fmt.Sprint("account ", i)} }},
	"opportunities": {"Opportunity", func(i int) map[string]any {
		return map[string]any{"Name": fmt.Sprint("deal ", i), "StageName": "Prospecting", "CloseDate": "2026-06-30", "Amount": 1000 + i}
	}},
	"leads": {"Lead", func(i int) map[string]any {
		return map[string]any{"LastName": fmt.Sprint("lead ", i), "Company": "Acme"}
	}},
}

// TestEndToEnd1000Changes: 1,000 creates, updates and deletes across four
// resources, in three rounds of polls, reach the callback exactly once each
// with the right event type; a session that ends between two pages of the
// largest poll changes nothing.
func TestEndToEnd1000Changes(t *testing.T) {
	h := newHarness(t, SimOptions{MaxBatch: 100})
	resources := []string{"accounts", "contacts", "leads", "opportunities"}
	inst := h.provision("cron:0 0 1 1 *", resources...) // polled by hand: RunNow
	var want changes
	alive := map[string][]string{}
	n := 0
	create := func(res string, count int) {
		o := e2eObjects[res]
		for range count {
			if n%25 == 0 {
				h.clk.Advance(100 * time.Millisecond) // some changes share a SystemModstamp
			}
			n++
			r := h.org.sim.Create(o.sobject, o.fields(n))
			alive[res] = append(alive[res], r.ID)
			want.add(engine.Created, res, r.ID, r.SystemModstamp)
		}
	}
	// update and remove take records from the front of alive, so no record
	// changes twice between two polls.
	update := func(res string, count int) {
		o := e2eObjects[res]
		for _, id := range alive[res][:count] {
			h.clk.Advance(3 * time.Millisecond)
			field := map[string]any{"Description": fmt.Sprint("edited ", n)}
			if res == "opportunities" {
				field["StageName"] = "Closed Won"
			}
			r, ok := h.org.sim.Update(o.sobject, id, field)
			if !ok {
				t.Fatalf("update %s", id)
			}
			want.add(engine.Updated, res, id, r.SystemModstamp)
		}
		alive[res] = append(alive[res][count:], alive[res][:count]...)
	}
	remove := func(res string, count int) {
		o := e2eObjects[res]
		for _, id := range alive[res][:count] {
			h.clk.Advance(7 * time.Millisecond)
			if !h.org.sim.Delete(o.sobject, id) {
				t.Fatalf("delete %s", id)
			}
			want.add(engine.Deleted, res, id, h.clk.Now())
		}
		alive[res] = alive[res][count:]
	}
	round := func() {
		h.clk.Advance(time.Minute)
		h.pollNow(inst, resources...)
	}

	// The session ends between the second and third page of the contacts
	// query in round 1.
	var expired sync.Once
	h.org.intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "-200") {
			expired.Do(h.org.sim.ExpireSessions)
		}
		return false
	})

	h.clk.Advance(time.Second)
	create("contacts", 400)
	create("accounts", 100)
	create("opportunities", 100)
	create("leads", 100)
	round()
	h.cb.wait(t, 700)

	for _, res := range resources {
		update(res, 50)
		remove(res, 20)
	}
	round()
	h.cb.wait(t, 980)

	for _, res := range resources {
		create(res, 2)
		update(res, 2)
		remove(res, 1)
	}
	round()
	if len(want.want) != 1000 {
		t.Fatalf("the test made %d changes, not 1000", len(want.want))
	}
	got := h.cb.wait(t, 1000)
	round() // a quiet poll: the lookback re-reads, nothing is repeated
	want.check(t, h.cb.all())
	if len(got) != 1000 {
		t.Fatalf("%d events", len(got))
	}
	if h.org.sim.TokenRequests() != 2 {
		t.Errorf("%d token exchanges: one, and one renewal mid-poll", h.org.sim.TokenRequests())
	}
	for _, res := range resources {
		st := h.status(inst, res)
		if st.LastError != "" || st.Failures != 0 || st.Polls != 4 || !st.Watermark.Equal(h.clk.Now()) {
			t.Errorf("%s: %+v", res, st)
		}
	}
	// Raw payloads are Salesforce's: records with attributes, deletions
	// with their deletedDate.
	h.cb.mu.Lock()
	defer h.cb.mu.Unlock()
	for k, raws := range h.cb.raws {
		for _, raw := range raws {
			typ := gjson.GetBytes(raw, "attributes.type").String()
			if typ == "" && gjson.GetBytes(raw, "deletedDate").String() == "" {
				t.Fatalf("%s raw %s", k, raw)
			}
			if typ != "" && e2eObjects[strings.Split(k, "/")[0]].sobject != typ {
				t.Fatalf("%s raw of type %s", k, typ)
			}
		}
	}
}

// TestEndToEndRequestLimitPausesAndResumes: REQUEST_LIMIT_EXCEEDED pauses
// the instance (PausedUntil in its pollers' status), polling looks again an
// hour later, and once the rolling 24 hours have freed requests it resumes
// by itself and delivers every change that waited.
func TestEndToEndRequestLimitPausesAndResumes(t *testing.T) {
	h := newHarness(t, SimOptions{DailyLimit: 500})
	inst := h.provision("10m", "contacts")
	var want changes
	createN := func(count int) {
		for i := range count {
			h.clk.Advance(time.Second)
			r := h.org.sim.Create("Contact", map[string]any{"LastName": fmt.Sprint("c", i)})
			want.add(engine.Created, "contacts", r.ID, r.SystemModstamp)
		}
	}
	// next moves the clock to the poller's next scheduled run and waits for
	// it.
	next := func() {
		st := h.status(inst, "contacts")
		h.clk.Set(st.NextRun)
		h.waitRuns(inst, "contacts")
	}
	if !h.clk.WaitArmed(h.status(inst, "contacts").NextRun, 5*time.Second) {
		t.Fatal("the scheduler did not arm the first run")
	}
	createN(30)
	next()
	h.cb.wait(t, 30)
	w0 := h.status(inst, "contacts")
	if w0.LastError != "" || w0.Polls != 1 {
		t.Fatalf("first poll: %+v", w0)
	}

	// The org's other integrations spend the allowance; changes wait.
	used, limit := h.org.sim.Usage()
	h.org.sim.Spend(limit - used)
	createN(20)
	next()
	st := h.status(inst, "contacts")
	pausedAt := st.LastRun
	if st.PausedUntil == nil || !st.PausedUntil.Equal(pausedAt.Add(time.Hour)) || !strings.Contains(st.PauseReason, "REQUEST_LIMIT_EXCEEDED") ||
		st.Failures != 0 || !st.Watermark.Equal(w0.Watermark) {
		t.Fatalf("after REQUEST_LIMIT_EXCEEDED: %+v", st)
	}

	// Paused: the schedule ticks, nothing reaches Salesforce.
	before := h.org.sim.Requests()
	for h.status(inst, "contacts").NextRun.Before(pausedAt.Add(time.Hour)) {
		next()
	}
	if h.org.sim.Requests() != before {
		t.Fatalf("%d requests while paused", h.org.sim.Requests()-before)
	}
	// The first run after the hour looks again: still spent, another hour.
	next()
	st = h.status(inst, "contacts")
	if h.org.sim.Requests() != before+1 || st.PausedUntil == nil || !st.PausedUntil.After(pausedAt.Add(time.Hour)) {
		t.Fatalf("re-check: %d requests, %+v", h.org.sim.Requests()-before, st)
	}

	// A day later the allowance has rolled over: the next scheduled run
	// polls by itself and delivers what waited.
	h.clk.Advance(24 * time.Hour)
	h.waitRuns(inst, "contacts")
	got := h.cb.wait(t, 50)
	want.check(t, got)
	st = h.status(inst, "contacts")
	if st.PausedUntil != nil || st.LastError != "" || !st.Watermark.After(w0.Watermark) {
		t.Fatalf("after the reset: %+v", st)
	}
}
