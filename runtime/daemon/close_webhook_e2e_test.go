package daemon

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/closeio"
	"github.com/pollwire/pollwire/runtime/engine"
)

// closeRun makes changes at the Close simulator in two phases — creates,
// then one update or one delete per record — so every state a record goes
// through stays visible long enough for a poller to read it, and returns
// the changes the callback must see, each exactly once: "id@date" for
// creates and updates, "id@DELETED" for deletions (Close stamps those with
// its own event time).
type closeRun struct {
	t    *testing.T
	sim  *closeio.Simulator
	want map[string]bool
	ids  map[string][]string // object type → ids created
}

func newCloseRun(t *testing.T, sim *closeio.Simulator) *closeRun {
	return &closeRun{t: t, sim: sim, want: map[string]bool{}, ids: map[string][]string{}}
}

func (c *closeRun) stamp(rec map[string]any) string {
	d, err := time.Parse(closeio.ObjectTimeFormat, fmt.Sprint(rec["date_updated"]))
	if err != nil {
		c.t.Fatal(err)
	}
	return fmt.Sprint(rec["id"]) + "@" + d.UTC().Format(time.RFC3339Nano)
}

func (c *closeRun) creates(n int) {
	for i := 0; i < n; i++ {
		typ := []string{closeio.TypeContact, closeio.TypeOpportunity}[i%2]
		rec := c.sim.Create(typ, map[string]any{"name": fmt.Sprint("record ", i)})
		c.ids[typ] = append(c.ids[typ], fmt.Sprint(rec["id"]))
		c.want[c.stamp(rec)] = true
	}
}

// touches updates or deletes every created record once.
func (c *closeRun) touches() {
	for typ, ids := range c.ids {
		for i, id := range ids {
			if i%3 == 0 {
				if err := c.sim.Delete(typ, id); err != nil {
					c.t.Fatal(err)
				}
				c.want[id+"@DELETED"] = true
				continue
			}
			rec, err := c.sim.Update(typ, id, map[string]any{"name": fmt.Sprint("edited ", i)})
			if err != nil {
				c.t.Fatal(err)
			}
			c.want[c.stamp(rec)] = true
		}
	}
}

// deliveredOnce waits until the sink holds exactly the wanted changes, each
// once, and fails on a repeat or, after 30 s, on what is still missing.
func deliveredOnce(t *testing.T, sink *eventSink, want map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sink.mu.Lock()
		got := map[string]int{}
		for k, n := range sink.events {
			if strings.HasPrefix(k, "lead_") {
				// A pure-webhook instance subscribes to every resource, and
				// creating a contact creates its lead: real changes this
				// test does not track.
				continue
			}
			if id, _, _ := cut(k, "@"); sink.types[k] == "DELETED" {
				k = id + "@DELETED"
			}
			got[k] += n
		}
		sink.mu.Unlock()
		for k, n := range got {
			if n != 1 {
				t.Fatalf("%s delivered %d times", k, n)
			}
			if !want[k] {
				t.Fatalf("%s delivered but never made", k)
			}
		}
		var missing []string
		for k := range want {
			if got[k] == 0 {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d changes never delivered, e.g. %v", len(missing), len(want), missing[:min(5, len(missing))])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cut(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func startCloseDaemon(t *testing.T, sim *closeio.Simulator, sink *eventSink, webhook bool, pollers bool) (*Daemon, *e2e, int64) {
	t.Helper()
	vendor := httptest.NewServer(sim)
	t.Cleanup(vendor.Close)
	callback := httptest.NewServer(sink)
	t.Cleanup(callback.Close)
	d, err := Start(context.Background(), Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), UserSecret: "u-secret", OrgSecret: "o-secret",
		AllowPrivateCallbacks: true, Out: io.Discard, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })
	e := &e2e{t: t, base: "http://" + d.Addr()}
	cfg := map[string]any{
		"username": closeio.DefaultSimAPIKey, "password": "", "base.url": vendor.URL,
		"event.notification.enabled": "true", "event.notification.callback.url": callback.URL,
		"event.vendor.type": "polling",
	}
	if webhook {
		cfg["event.vendor.type"] = "webhook"
	}
	if pollers {
		pc := map[string]any{}
		for _, res := range []string{"contacts", "opportunities"} {
			pc[res] = map[string]any{"url": "/hubs/crm/" + res + "?where=date_updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX}'"}
		}
		cfg["event.poller.configuration"] = pc
		cfg["event.poller.refresh_interval"] = "1s"
	}
	var inst struct {
		ID      int64  `json:"id"`
		Message string `json:"message"`
	}
	if st := e.do("POST", "/elements/api-v2/instances", map[string]any{"connector": map[string]any{"key": "closeio"}, "name": "hooks", "configuration": cfg}, &inst); st != 200 {
		t.Fatalf("provision: %d %s", st, inst.Message)
	}
	if webhook {
		// pollwire registers its intake URL with Close by itself.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			req, _ := http.NewRequest("GET", vendor.URL+"/webhook/", nil)
			req.SetBasicAuth(closeio.DefaultSimAPIKey, "")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if containsStr(string(b), engine.IntakePath("closeio", inst.ID)) {
				// Subscribed at Close; the key must be stored too before a
				// push can verify.
				if stored, err := d.Store().GetInstance(context.Background(), inst.ID); err == nil {
					if k, _ := stored.Value("event.webhook.signature.key"); k != "" {
						break
					}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("pollwire never subscribed: %s", b)
			}
		}
	}
	return d, e, inst.ID
}

func containsStr(s, sub string) bool { _, _, ok := cut(s, sub); return ok }

// TestCloseWebhooksEndToEnd: the Close simulator pushes every change to
// the subscription pollwire registered; each reaches the callback once.
func TestCloseWebhooksEndToEnd(t *testing.T) {
	sim := closeio.NewSimulator(closeio.SimOptions{WebhookRetry: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}})
	t.Cleanup(sim.Close)
	sink := &eventSink{events: map[string]int{}}
	d, e, id := startCloseDaemon(t, sim, sink, true, false)
	run := newCloseRun(t, sim)
	run.creates(80)
	run.touches()
	if err := sim.FlushWebhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	deliveredOnce(t, sink, run.want)
	if sent, delivered, _ := sim.Webhooks(); delivered != sent {
		t.Fatalf("Close sent %d webhooks, pollwire took %d", sent, delivered)
	}
	// Deleting the instance removes the subscription at Close.
	if st := e.do("DELETE", fmt.Sprintf("/elements/api-v2/instances/%d", id), nil, nil); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	_ = d
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		sim.Create(closeio.TypeContact, map[string]any{"name": "after delete"})
		sim.FlushWebhooks(context.Background())
		sent1, _, _ := sim.Webhooks()
		sim.Create(closeio.TypeContact, map[string]any{"name": "after delete 2"})
		sim.FlushWebhooks(context.Background())
		if sent2, _, _ := sim.Webhooks(); sent2 == sent1 {
			break // no subscription left to push to
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription survived the instance")
		}
	}
}

// TestHybridWithDroppedWebhooks: 30% of pushes never arrive; the poller,
// running beside the webhooks, delivers those, and nothing twice.
func TestHybridWithDroppedWebhooks(t *testing.T) {
	sim := closeio.NewSimulator(closeio.SimOptions{WebhookRetry: []time.Duration{}, WebhookDropRate: 0.3, WebhookSeed: 7})
	t.Cleanup(sim.Close)
	sink := &eventSink{events: map[string]int{}}
	startCloseDaemon(t, sim, sink, true, true)
	run := newCloseRun(t, sim)
	run.creates(120)
	deliveredOnce(t, sink, run.want)
	run.touches()
	deliveredOnce(t, sink, run.want)
	if _, _, dropped := sim.Webhooks(); dropped < 40 {
		t.Fatalf("only %d webhooks dropped; the test would not exercise the poller", dropped)
	}
}

// TestIntakeSignatureTable: of these pushes to the intake, only the first
// is accepted, and the refused ones queue nothing.
func TestIntakeSignatureTable(t *testing.T) {
	sim := closeio.NewSimulator(closeio.SimOptions{WebhookRetry: []time.Duration{}})
	t.Cleanup(sim.Close)
	sink := &eventSink{events: map[string]int{}}
	d, e, id := startCloseDaemon(t, sim, sink, true, false)
	inst, err := d.Store().GetInstance(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	keyHex, _ := inst.Value("event.webhook.signature.key")
	key, err := hex.DecodeString(keyHex)
	if err != nil || len(key) == 0 {
		t.Fatalf("stored signature key %q: %v", keyHex, err)
	}
	body := []byte(`{"subscription_id":"whsub_1","event":{"id":"ev_1","object_type":"contact","action":"created","object_id":"cont_x","lead_id":"lead_x","data":{"id":"cont_x","lead_id":"lead_x","date_created":"2026-01-02T03:04:05.123456+00:00","date_updated":"2026-01-02T03:04:05.123456+00:00"},"date_created":"2026-01-02T03:04:05.124000","date_updated":"2026-01-02T03:04:05.124000"}}`)
	sign := func(ts string, b []byte) string {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(ts))
		mac.Write(b)
		return hex.EncodeToString(mac.Sum(nil))
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10)
	path := engine.IntakePath("closeio", id)
	cases := []struct {
		name   string
		path   string
		body   []byte
		hdr    map[string]string
		status int
	}{
		{"valid", path, body, map[string]string{"close-sig-timestamp": now, "close-sig-hash": sign(now, body)}, 200},
		{"wrong signature", path, body, map[string]string{"close-sig-timestamp": now, "close-sig-hash": sign(now, []byte("other"))}, 401},
		{"tampered body", path, append(body[:len(body)-1:len(body)-1], ' ', '}'), map[string]string{"close-sig-timestamp": now, "close-sig-hash": sign(now, body)}, 401},
		{"stale timestamp", path, body, map[string]string{"close-sig-timestamp": stale, "close-sig-hash": sign(stale, body)}, 401},
		{"missing headers", path, body, nil, 401},
		{"unknown instance", engine.IntakePath("closeio", id+1000), body, map[string]string{"close-sig-timestamp": now, "close-sig-hash": sign(now, body)}, 404},
		{"another connector's path", engine.IntakePath("hubspot", id), body, map[string]string{"close-sig-timestamp": now, "close-sig-hash": sign(now, body)}, 404},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("POST", e.base+tc.path, bytes.NewReader(tc.body))
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	var rows []eventRow
	e.do("GET", fmt.Sprintf("/elements/api-v2/instances/%d/events", id), nil, &rows)
	if len(rows) != 1 {
		t.Fatalf("%d notifications queued, want only the valid push's", len(rows))
	}
}
