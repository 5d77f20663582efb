package closeio

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/source"
)

// verifyPush checks a pushed webhook as the intake would.
func verifyPush(t testing.TB, p pushed, key string, now time.Time) {
	t.Helper()
	err := New().Verify(&source.WebhookRequest{
		Instance: webhookInstance(map[string]string{connectors.KeyWebhookSecret: key}),
		Header:   p.header, Body: p.body, Now: now,
	})
	if err != nil {
		t.Errorf("push refused: %v", err)
	}
}

// TestSimWebhookRetry: a receiver that fails twice gets the webhook on
// the third attempt, each attempt signed anew; one that always fails gets
// one attempt plus the retries; a receiver too slow to answer counts as a
// failure and is retried.
func TestSimWebhookRetry(t *testing.T) {
	retry := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	t.Run("fails twice", func(t *testing.T) {
		sim, _, clk := newTestSim(t, SimOptions{WebhookRetry: retry})
		t.Cleanup(sim.Close)
		rcv := newReceiver(t, func(n int) int {
			if n <= 2 {
				return http.StatusBadGateway
			}
			return http.StatusNoContent
		})
		_, key := sim.AddWebhook(rcv.srv.URL, WebhookEvent{TypeLead, "created"})
		sim.Create(TypeLead, nil)
		flush(t, sim)
		pushes := rcv.all()
		if len(pushes) != 3 {
			t.Fatalf("%d attempts, want 3", len(pushes))
		}
		for _, p := range pushes {
			verifyPush(t, p, key, clk.Now())
			if string(p.body) != string(pushes[0].body) {
				t.Errorf("a retry changed the body")
			}
		}
		if sent, delivered, dropped := sim.Webhooks(); sent != 1 || delivered != 1 || dropped != 0 {
			t.Errorf("webhooks %d sent, %d delivered, %d dropped; want 1, 1, 0", sent, delivered, dropped)
		}
	})
	t.Run("always fails", func(t *testing.T) {
		sim, _, _ := newTestSim(t, SimOptions{WebhookRetry: retry})
		t.Cleanup(sim.Close)
		rcv := newReceiver(t, func(int) int { return http.StatusInternalServerError })
		sim.AddWebhook(rcv.srv.URL, WebhookEvent{TypeLead, "created"})
		sim.Create(TypeLead, nil)
		flush(t, sim)
		if n := len(rcv.all()); n != 1+len(retry) {
			t.Errorf("%d attempts, want %d", n, 1+len(retry))
		}
		if sent, delivered, _ := sim.Webhooks(); sent != 1 || delivered != 0 {
			t.Errorf("%d sent, %d delivered; want 1, 0", sent, delivered)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		var calls atomic.Int32
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The server notices the sender hanging up only once the body
			// is read.
			_, _ = io.Copy(io.Discard, r.Body)
			if calls.Add(1) == 1 {
				select { // answers only once the sender gave up
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(slow.Close)
		sim, _, _ := newTestSim(t, SimOptions{WebhookRetry: retry, WebhookClient: &http.Client{Timeout: 20 * time.Millisecond}})
		t.Cleanup(sim.Close)
		sim.AddWebhook(slow.URL, WebhookEvent{TypeLead, "created"})
		sim.Create(TypeLead, nil)
		flush(t, sim)
		if n := calls.Load(); n != 2 {
			t.Errorf("%d attempts, want 2", n)
		}
		if _, delivered, _ := sim.Webhooks(); delivered != 1 {
			t.Errorf("%d delivered, want 1", delivered)
		}
	})
	t.Run("close ends the default 72 h schedule", func(t *testing.T) {
		first := make(chan struct{}, 1)
		rcv := newReceiver(t, func(int) int {
			select {
			case first <- struct{}{}:
			default:
			}
			return http.StatusServiceUnavailable
		})
		sim, _, _ := newTestSim(t, SimOptions{})
		sim.AddWebhook(rcv.srv.URL, WebhookEvent{TypeLead, "created"})
		sim.Create(TypeLead, nil)
		<-first
		done := make(chan struct{})
		go func() { sim.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not end the pending retries")
		}
		if sent, delivered, _ := sim.Webhooks(); sent != 1 || delivered != 0 || len(rcv.all()) != 1 {
			t.Errorf("%d sent, %d delivered, %d attempts", sent, delivered, len(rcv.all()))
		}
	})
}

// TestDefaultWebhookRetry: Close-like backoff spanning (just under) the
// 72 hours Close retries for.
func TestDefaultWebhookRetry(t *testing.T) {
	var total time.Duration
	for i, d := range DefaultWebhookRetry() {
		if d <= 0 || d > 12*time.Hour {
			t.Errorf("wait %d is %s", i, d)
		}
		total += d
	}
	if total < 70*time.Hour || total > 72*time.Hour {
		t.Errorf("retries span %s, want just under 72h", total)
	}
}

// TestSimWebhookDropRate: a drop rate of 0.3 over 1,000 mutations drops
// 25-35 % of the webhooks, never sends them, delivers the rest, and drops
// the same ones on a second run with the same seed.
func TestSimWebhookDropRate(t *testing.T) {
	run := func() (sent, delivered, dropped, received int) {
		sim, _, _ := newTestSim(t, SimOptions{WebhookDropRate: 0.3, WebhookRetry: []time.Duration{}})
		t.Cleanup(sim.Close)
		rcv := newReceiver(t, nil)
		sim.AddWebhook(rcv.srv.URL, WebhookEvent{TypeLead, "created"}, WebhookEvent{TypeLead, "updated"})
		var leads []string
		for range 100 {
			leads = append(leads, sim.Create(TypeLead, nil)["id"].(string))
		}
		for i := range 900 {
			if _, err := sim.Update(TypeLead, leads[i%len(leads)], map[string]any{"description": i}); err != nil {
				t.Fatal(err)
			}
		}
		flush(t, sim)
		sent, delivered, dropped = sim.Webhooks()
		return sent, delivered, dropped, len(rcv.all())
	}
	sent, delivered, dropped, received := run()
	t.Logf("%d of 1000 webhooks dropped", dropped)
	if dropped < 250 || dropped > 350 {
		t.Errorf("%d of 1000 dropped, want 250-350", dropped)
	}
	if sent+dropped != 1000 || delivered != sent || received != sent {
		t.Errorf("%d sent, %d delivered, %d dropped, %d received", sent, delivered, dropped, received)
	}
	if _, _, again, _ := run(); again != dropped {
		t.Errorf("the same seed dropped %d, then %d", dropped, again)
	}
}

// TestSimWebhookAPI: POST, GET, PUT and DELETE /webhook/ with Close's
// shapes and refusals; a paused subscription is not pushed to.
func TestSimWebhookAPI(t *testing.T) {
	sim, srv, _ := newTestSim(t, SimOptions{})
	t.Cleanup(sim.Close)
	rcv := newReceiver(t, nil)
	base := srv.URL + "/api/v1/webhook/"
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"no url", map[string]any{"events": []any{map[string]any{"object_type": "lead", "action": "created"}}}, "url"},
		{"bad url", map[string]any{"url": "not a url", "events": []any{map[string]any{"object_type": "lead", "action": "created"}}}, "url"},
		{"no events", map[string]any{"url": rcv.srv.URL}, "events"},
		{"empty events", map[string]any{"url": rcv.srv.URL, "events": []any{}}, "events"},
		{"unknown event", map[string]any{"url": rcv.srv.URL, "events": []any{map[string]any{"object_type": "lead", "action": "exploded"}}}, "events"},
		{"merged contact", map[string]any{"url": rcv.srv.URL, "events": []any{map[string]any{"object_type": "contact", "action": "merged"}}}, "events"},
		{"extra filter", map[string]any{"url": rcv.srv.URL, "events": []any{map[string]any{"object_type": "lead", "action": "created", "extra_filter": map[string]any{}}}}, "events"},
		{"status on create", map[string]any{"url": rcv.srv.URL, "status": "paused", "events": []any{map[string]any{"object_type": "lead", "action": "created"}}}, "status"},
		{"unknown field", map[string]any{"url": rcv.srv.URL, "name": "x", "events": []any{map[string]any{"object_type": "lead", "action": "created"}}}, "__all__"},
	} {
		a := call(t, http.MethodPost, base, DefaultSimAPIKey, tc.body)
		if a.status != http.StatusBadRequest || !a.json("field-errors."+tc.field).Exists() {
			t.Errorf("%s: %d %s, want 400 on %s", tc.name, a.status, a.body, tc.field)
		}
	}

	created := call(t, http.MethodPost, base, DefaultSimAPIKey, map[string]any{
		"url": rcv.srv.URL, "verify_ssl": false,
		"events": []any{map[string]any{"object_type": "activity.note", "action": "created"}, map[string]any{"object_type": "lead", "action": "merged"}},
	})
	if created.status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	id := created.json("id").Str
	if !strings.HasPrefix(id, "whsub_") || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(created.json("signature_key").Str) ||
		created.json("status").Str != "active" || created.json("verify_ssl").Bool() || created.json("url").Str != rcv.srv.URL ||
		!eventDate.MatchString(created.json("date_created").Str) {
		t.Errorf("created %s", created.body)
	}
	if one := get(t, srv, "/webhook/"+id+"/"); one.status != 200 || one.json("signature_key").Str != created.json("signature_key").Str {
		t.Errorf("get: %d %s", one.status, one.body)
	}
	if list := get(t, srv, "/webhook/"); list.json("has_more").Bool() || len(list.json("data").Array()) != 1 {
		t.Errorf("list %s", list.body)
	}

	paused := call(t, http.MethodPut, base+id+"/", DefaultSimAPIKey, map[string]any{"status": "paused"})
	if paused.status != 200 || paused.json("status").Str != "paused" || len(paused.json("events").Array()) != 2 {
		t.Fatalf("pause: %d %s", paused.status, paused.body)
	}
	sim.Create(TypeActivity, nil)
	flush(t, sim)
	if n := len(rcv.all()); n != 0 {
		t.Errorf("%d webhooks to a paused subscription", n)
	}
	if a := call(t, http.MethodPut, base+id+"/", DefaultSimAPIKey, map[string]any{"status": "gone"}); a.status != 400 {
		t.Errorf("bad status: %d", a.status)
	}
	call(t, http.MethodPut, base+id+"/", DefaultSimAPIKey, map[string]any{"status": "active"})
	sim.Create(TypeActivity, nil)
	flush(t, sim)
	if n := len(rcv.all()); n != 1 {
		t.Errorf("%d webhooks after resuming, want 1", n)
	}

	if a := call(t, http.MethodDelete, base+id+"/", DefaultSimAPIKey, nil); a.status != 200 {
		t.Errorf("delete: %d %s", a.status, a.body)
	}
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		if a := call(t, method, base+id+"/", DefaultSimAPIKey, map[string]any{}); a.status != 404 {
			t.Errorf("%s after delete: %d", method, a.status)
		}
	}
	if a := call(t, http.MethodPatch, base, DefaultSimAPIKey, nil); a.status != 405 {
		t.Errorf("PATCH: %d", a.status)
	}
	if a := call(t, http.MethodGet, base, "-", nil); a.status != 401 {
		t.Errorf("without auth: %d", a.status)
	}
}

// TestSimMerge: merging leads moves the children, updates the destination,
// deletes the source and fires "merged"; Changes makes of it the source's
// deletion, dated as the deletion feed dates it, and the destination's
// update.
func TestSimMerge(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	t.Cleanup(sim.Close)
	rcv := newReceiver(t, nil)
	_, key := sim.AddWebhook(rcv.srv.URL,
		WebhookEvent{TypeLead, "merged"}, WebhookEvent{TypeLead, "updated"}, WebhookEvent{TypeLead, "deleted"}, WebhookEvent{TypeContact, "updated"})
	src := sim.Create(TypeLead, nil)["id"].(string)
	dst := sim.Create(TypeLead, nil)["id"].(string)
	contact := sim.Create(TypeContact, map[string]any{"lead_id": src})["id"].(string)
	since := clk.Now()
	clk.Add(2 * time.Minute)
	if err := sim.Merge(src, dst); err != nil {
		t.Fatal(err)
	}
	flush(t, sim)

	byAction := map[string]gjson.Result{}
	for _, p := range rcv.all() {
		verifyPush(t, p, key, clk.Now())
		ev := gjson.GetBytes(p.body, "event")
		byAction[ev.Get("object_type").Str+" "+ev.Get("action").Str] = ev
		if ev.Get("meta.merge_source_lead_id").Str != src || ev.Get("meta.merge_destination_lead_id").Str != dst {
			t.Errorf("%s %s without the merge in meta: %s", ev.Get("object_type").Str, ev.Get("action").Str, ev.Get("meta").Raw)
		}
	}
	if len(byAction) != 4 {
		t.Fatalf("events %v, want contact updated, lead updated, deleted and merged", byAction)
	}
	if c := byAction["contact updated"]; c.Get("data.lead_id").Str != dst || c.Get("object_id").Str != contact {
		t.Errorf("contact not moved: %s", c.Raw)
	}
	merged := byAction["lead merged"]
	if merged.Get("object_id").Str != dst || merged.Get("lead_id").Str != dst || merged.Get("data.id").Str != dst {
		t.Errorf("merged event %s", merged.Raw)
	}

	changes, err := New().Changes(&source.WebhookRequest{Body: []byte(`{"event":` + merged.Raw + `}`)})
	if err != nil || len(changes) != 2 {
		t.Fatalf("changes %+v, %v", changes, err)
	}
	del, upd := changes[0], changes[1]
	if del.Type != "DELETED" || del.ObjectID != src || upd.Type != "UPDATED" || upd.ObjectID != dst {
		t.Fatalf("changes %+v", changes)
	}
	updated, _ := New().Changes(&source.WebhookRequest{Body: []byte(`{"event":` + byAction["lead updated"].Raw + `}`)})
	if len(updated) != 1 || !updated[0].Date.Equal(upd.Date) {
		t.Errorf("the merge's update is dated %s, the lead's updated event %+v", upd.Date, updated)
	}
	// The deletion feed of a poll reports the source at the same date.
	got, err := pollAll(t, New(), request(t, srv.URL, ResourceAccounts, since, pollOpts{}))
	if err != nil {
		t.Fatal(err)
	}
	if got.deleted[src] != del.Date.Format(time.RFC3339Nano) {
		t.Errorf("poll deleted %v, merge says %s at %s", got.deleted, src, del.Date.Format(time.RFC3339Nano))
	}

	// Over HTTP, with Close's refusals.
	third := sim.Create(TypeLead, nil)["id"].(string)
	if a := call(t, http.MethodPost, srv.URL+"/api/v1/lead/merge/", DefaultSimAPIKey, map[string]any{"source": third, "destination": dst}); a.status != 200 {
		t.Errorf("merge: %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodPost, srv.URL+"/lead/merge/", DefaultSimAPIKey, map[string]any{"source": third, "destination": dst}); a.status != 400 || !a.json("field-errors.source").Exists() {
		t.Errorf("merging a deleted lead: %d %s", a.status, a.body)
	}
	if a := call(t, http.MethodPost, srv.URL+"/lead/merge/", DefaultSimAPIKey, map[string]any{"source": dst, "destination": dst}); a.status != 400 {
		t.Errorf("merging a lead into itself: %d %s", a.status, a.body)
	}
	if err := sim.Merge(src, dst); err == nil {
		t.Error("merged a deleted lead")
	}
}

// TestSimWebhookSignatureKeys: each subscription has its own 32-byte key.
func TestSimWebhookSignatureKeys(t *testing.T) {
	sim, _, _ := newTestSim(t, SimOptions{})
	t.Cleanup(sim.Close)
	_, k1 := sim.AddWebhook("http://a.example/", WebhookEvent{TypeLead, "created"})
	_, k2 := sim.AddWebhook("http://a.example/", WebhookEvent{TypeLead, "created"})
	for _, k := range []string{k1, k2} {
		if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
			t.Errorf("key %q", k)
		}
	}
	if k1 == k2 {
		t.Error("two subscriptions share a key")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sim.FlushWebhooks(ctx); err != nil {
		t.Errorf("flush with nothing pending: %v", err)
	}
}
