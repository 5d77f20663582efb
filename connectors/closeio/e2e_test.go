package closeio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/closeio"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/engine"
	"github.com/pollwire/pollwire/runtime/secrets"
	"github.com/pollwire/pollwire/runtime/store"
)

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// event is one delivered event with the record it carried.
type event struct {
	Type, Object, ID string
	Raw              json.RawMessage
}

// callback collects every event POSTed to it.
type callback struct {
	mu     sync.Mutex
	events []event
	srv    *httptest.Server
}

func newCallback(t *testing.T) *callback {
	c := &callback{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m struct {
			Message struct {
				Events []struct {
					EventType, ObjectType, ObjectID string
				} `json:"events"`
				Raw map[string][]json.RawMessage `json:"raw"`
			} `json:"message"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("callback body: %v", err)
		}
		c.mu.Lock()
		for i, ev := range m.Message.Events {
			var raw json.RawMessage
			if rs := m.Message.Raw[ev.ObjectType]; i < len(rs) {
				raw = rs[i]
			}
			c.events = append(c.events, event{ev.EventType, ev.ObjectType, ev.ObjectID, raw})
		}
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callback) all() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// runtime is pollwire's poll-to-callback path with a fake clock: a real
// store in a temporary directory, the engine with the Close Source, and
// the delivery dispatcher.
type runtime struct {
	t    *testing.T
	clk  clock.Clock
	st   *store.Bolt
	eng  *engine.Engine
	disp *delivery.Dispatcher
}

func newRuntime(t *testing.T, clk clock.Clock, sources map[string]source.Source) *runtime {
	t.Helper()
	sealer, err := secrets.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	rt := &runtime{t: t, clk: clk}
	rt.st, err = store.Open(t.TempDir()+"/pollwire.db", sealer)
	if err != nil {
		t.Fatal(err)
	}
	var eng *engine.Engine
	rt.disp = delivery.New(delivery.Config{
		Store: rt.st, Clock: clk, Client: delivery.NewClient(true),
		Keys: func(id int64) string { return eng.SignatureKey(id) },
	})
	eng = engine.New(engine.Config{
		Store: rt.st, Catalog: connectors.List{closeio.Spec}, Sources: sources,
		Outbox: rt.disp, Clock: clk, VendorClient: &http.Client{Timeout: 10 * time.Second},
	})
	rt.eng = eng
	if err := rt.disp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Stop()
		rt.disp.Stop()
		if err := rt.st.Close(); err != nil {
			t.Error(err)
		}
	})
	return rt
}

// seedInstance is the seed's instance.json (SAP's Close.io example) with
// base.url and the callback URL pointed at the test, and accounts and
// opportunities added in the style of its contacts. The refresh interval
// is yearly: the test polls by hand as the fake clock moves.
func seedInstance(t *testing.T, name, apiKey, baseURL, callbackURL string) []byte {
	t.Helper()
	resource := func(res string) map[string]any {
		return map[string]any{
			"url":     "/hubs/crm/" + res + "?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}'",
			"idField": "id",
			"datesConfiguration": map[string]any{
				"updatedDateField":  "date_updated",
				"updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
				"createdDateField":  "date_created",
				"createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
			},
		}
	}
	body, err := json.Marshal(map[string]any{
		"connector": map[string]any{"key": "closeio"},
		"configuration": map[string]any{
			"username":                        apiKey,
			"password":                        "",
			"base.url":                        baseURL,
			"event.notification.enabled":      "true",
			"event.notification.callback.url": callbackURL,
			"event.vendor.type":               "polling",
			"event.poller.refresh_interval":   "cron:0 0 1 1 *",
			"event.poller.configuration": map[string]any{
				"contacts": resource("contacts"), "accounts": resource("accounts"), "opportunities": resource("opportunities"),
			},
		},
		"tags": []string{"e2e"},
		"name": name,
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func (rt *runtime) provision(body []byte) *instances.Instance {
	rt.t.Helper()
	req, err := instances.DecodeRequest(body)
	if err != nil {
		rt.t.Fatal(err)
	}
	inst, s, err := instances.New(req, connectors.List{closeio.Spec}, rt.clk.Now())
	if err != nil {
		rt.t.Fatal(err)
	}
	if err := rt.st.CreateInstance(context.Background(), inst); err != nil {
		rt.t.Fatal(err)
	}
	rt.eng.Apply(inst, s)
	return inst
}

// poll runs one poll of each resource through the scheduler (RunNow) and
// waits, in real time, until each has finished and its notifications
// were delivered.
func (rt *runtime) poll(inst *instances.Instance, resources ...string) {
	rt.t.Helper()
	before := map[string]int64{}
	for _, p := range rt.eng.Pollers(inst.ID) {
		before[p.Resource] = p.Polls
	}
	for _, res := range resources {
		if err := rt.eng.RunNow(inst.ID, res); err != nil {
			rt.t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, res := range resources {
		for {
			var st engine.PollerStatus
			for _, p := range rt.eng.Pollers(inst.ID) {
				if p.Resource == res {
					st = p
				}
			}
			if st.Polls > before[res] && !st.Running {
				if st.LastError != "" {
					rt.t.Fatalf("poll of %s failed: %s", res, st.LastError)
				}
				break
			}
			if time.Now().After(deadline) {
				rt.t.Fatalf("poll of %s did not finish: %+v", res, st)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for len(rt.disp.Depth()) > 0 {
		if time.Now().After(deadline) {
			rt.t.Fatalf("deliveries did not settle: %v", rt.disp.Depth())
		}
		time.Sleep(time.Millisecond)
	}
}

var resourceOf = map[string]string{
	closeio.TypeLead: "accounts", closeio.TypeContact: "contacts", closeio.TypeOpportunity: "opportunities",
}

// TestEndToEndSeedInstance provisions the seed's instance against the
// simulator and makes 1,000 changes — creates, updates and deletes of
// leads, contacts and opportunities — polled every few dozen changes. Every
// change reaches the callback exactly once, as the event the poll interval
// calls for: an object deleted in it is DELETED, one created in it (even if
// updated after) CREATED, one only updated UPDATED.
func TestEndToEndSeedInstance(t *testing.T) {
	clk := clock.NewFake(start)
	sim := closeio.NewSimulator(closeio.SimOptions{Now: clk.Now})
	vendor := httptest.NewServer(sim)
	defer vendor.Close()
	cb := newCallback(t)
	src := closeio.New()
	src.MaxLimit = 20 // pages of 20: every poll pages, as a busy account's would
	rt := newRuntime(t, clk, map[string]source.Source{"closeio": src})
	inst := rt.provision(seedInstance(t, "close-prod", closeio.DefaultSimAPIKey, vendor.URL+"/api/v1", cb.srv.URL+"/hooks/crm"))

	rng := rand.New(rand.NewPCG(1, 2))
	alive := map[string][]string{} // object type → ids
	typeOf := map[string]string{}
	leadOf := map[string]string{} // contact or opportunity → its lead
	// interval is what happened to each object since the last poll.
	type fate struct{ created, updated, deleted bool }
	interval := map[string]*fate{}
	at := func(id string) *fate {
		if interval[id] == nil {
			interval[id] = &fate{}
		}
		return interval[id]
	}
	want := map[string]int{} // "TYPE object id" → expected deliveries
	drop := func(typ, id string) {
		alive[typ] = slices.DeleteFunc(alive[typ], func(x string) bool { return x == id })
		at(id).deleted = true
	}
	pick := func(typ string) string { return alive[typ][rng.IntN(len(alive[typ]))] }

	changes := 0
	create := func(typ string) {
		fields := map[string]any{}
		if typ != closeio.TypeLead {
			fields["lead_id"] = pick(closeio.TypeLead)
		}
		id := sim.Create(typ, fields)["id"].(string)
		if typ != closeio.TypeLead {
			leadOf[id] = fields["lead_id"].(string)
		}
		alive[typ] = append(alive[typ], id)
		typeOf[id] = typ
		at(id).created = true
		changes++
	}
	for changes < 1000 {
		for n := 10 + rng.IntN(110); n > 0 && changes < 1000; n-- {
			clk.Advance(time.Duration(1+rng.IntN(3000)) * time.Millisecond)
			typ := []string{closeio.TypeLead, closeio.TypeContact, closeio.TypeOpportunity}[rng.IntN(3)]
			switch op := rng.IntN(100); {
			case len(alive[closeio.TypeLead]) == 0:
				create(closeio.TypeLead)
			case op < 40 || len(alive[typ]) == 0:
				create(typ)
			case op < 80:
				id := pick(typ)
				if _, err := sim.Update(typ, id, map[string]any{"description": fmt.Sprint(changes)}); err != nil {
					t.Fatal(err)
				}
				at(id).updated = true
				changes++
			case typ != closeio.TypeLead || op < 83:
				id := pick(typ)
				if typ == closeio.TypeLead {
					// Close deletes the lead's contacts and opportunities
					// with it, each with its own event.
					for _, child := range []string{closeio.TypeContact, closeio.TypeOpportunity} {
						for _, cid := range slices.Clone(alive[child]) {
							if leadOf[cid] == id {
								drop(child, cid)
								changes++
							}
						}
					}
				}
				if err := sim.Delete(typ, id); err != nil {
					t.Fatal(err)
				}
				drop(typ, id)
				changes++
			}
		}
		clk.Advance(time.Millisecond)
		rt.poll(inst, "contacts", "accounts", "opportunities")
		for id, f := range interval {
			typ := "UPDATED"
			switch {
			case f.deleted:
				typ = "DELETED"
			case f.created:
				typ = "CREATED"
			}
			want[typ+" "+resourceOf[typeOf[id]]+" "+id]++
		}
		interval = map[string]*fate{}
		clk.Advance(time.Millisecond)
	}
	// Polls with nothing new deliver nothing.
	for range 3 {
		clk.Advance(20 * time.Second)
		rt.poll(inst, "contacts", "accounts", "opportunities")
	}

	got := map[string]int{}
	for _, ev := range cb.all() {
		got[ev.Type+" "+ev.Object+" "+ev.ID]++
		if len(ev.Raw) == 0 {
			t.Errorf("%s %s without its record", ev.Type, ev.ID)
		}
	}
	var missing, extra []string
	for k, n := range want {
		if got[k] != n {
			missing = append(missing, fmt.Sprintf("%s: delivered %d, want %d", k, got[k], n))
		}
	}
	for k := range got {
		if want[k] == 0 {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("%d wrong, %d unexpected of %d events:\n%s\n%s", len(missing), len(extra), len(want),
			strings.Join(missing[:min(20, len(missing))], "\n"), strings.Join(extra[:min(20, len(extra))], "\n"))
	}
	counts := map[string]int{}
	for k := range want {
		counts[strings.SplitN(k, " ", 3)[0]+" "+strings.SplitN(k, " ", 3)[1]]++
	}
	t.Logf("%d changes, %d events delivered once each: %v; %d vendor requests", changes, len(want), counts, sim.Requests())
	if len(want) < 600 {
		t.Errorf("only %d events: the test should exercise more", len(want))
	}
}

// TestEndToEndSharedKeyRateLimit: three instances share one API key and
// poll a backlog of 3 × 90 changes at once, against a limit of 20 requests
// per 2 s per endpoint group (real time). The connector slows down before
// Close refuses: at most one 429 in all, and every change reaches every
// instance's callback once.
func TestEndToEndSharedKeyRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for real rate-limit windows")
	}
	sim := closeio.NewSimulator(closeio.SimOptions{RateLimit: 20, RateWindow: 2 * time.Second})
	vendor := httptest.NewServer(sim)
	defer vendor.Close()
	src := closeio.New()
	src.MaxLimit = 10
	rt := newRuntime(t, clock.Real(), map[string]source.Source{"closeio": src})
	var insts []*instances.Instance
	var cbs []*callback
	for i := range 3 {
		cb := newCallback(t)
		cbs = append(cbs, cb)
		insts = append(insts, rt.provision(seedInstance(t, fmt.Sprintf("close-%d", i), closeio.DefaultSimAPIKey, vendor.URL, cb.srv.URL)))
	}
	time.Sleep(10 * time.Millisecond) // the backlog is after the instances' creation
	want := map[string]bool{}
	for range 90 {
		lead := sim.Create(closeio.TypeLead, nil)["id"].(string)
		want["accounts "+lead] = true
		want["contacts "+sim.Create(closeio.TypeContact, map[string]any{"lead_id": lead})["id"].(string)] = true
		want["opportunities "+sim.Create(closeio.TypeOpportunity, map[string]any{"lead_id": lead})["id"].(string)] = true
	}
	time.Sleep(10 * time.Millisecond)
	begin := time.Now()
	var wg sync.WaitGroup
	for _, inst := range insts {
		wg.Go(func() { rt.poll(inst, "contacts", "accounts", "opportunities") })
	}
	wg.Wait()
	for i, cb := range cbs {
		got := map[string]int{}
		for _, ev := range cb.all() {
			if ev.Type != "CREATED" {
				t.Errorf("instance %d: %s %s %s", i, ev.Type, ev.Object, ev.ID)
			}
			got[ev.Object+" "+ev.ID]++
		}
		for k := range want {
			if got[k] != 1 {
				t.Errorf("instance %d: %s delivered %d times", i, k, got[k])
			}
		}
		if len(got) != len(want) {
			t.Errorf("instance %d: %d changes delivered, want %d", i, len(got), len(want))
		}
	}
	if sim.Throttled() > 1 {
		t.Errorf("%d requests refused with 429, want at most 1", sim.Throttled())
	}
	t.Logf("%d vendor requests, %d throttled, %s", sim.Requests(), sim.Throttled(), time.Since(begin).Round(time.Millisecond))
}
