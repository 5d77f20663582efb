package daemon

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/rest"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/runtime/engine"
)

// hookSource is the rest connector plus a test webhook: X-Test-Signature is
// hex(HMAC-SHA256(event.webhook.signature.key, body)); the body is a JSON
// array of changes.
type hookSource struct{ *rest.Source }

func (hookSource) Verify(req *source.WebhookRequest) error {
	key, _ := req.Instance.Value(connectors.KeyWebhookSecret)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(req.Body)
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(req.Header.Get("X-Test-Signature"))) {
		return fmt.Errorf("%w: bad X-Test-Signature", source.ErrSignature)
	}
	return nil
}

func (hookSource) Changes(req *source.WebhookRequest) ([]source.Change, error) {
	var in []struct{ Resource, Type, ID, Date string }
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, err
	}
	var out []source.Change
	for _, c := range in {
		d, err := time.Parse(time.RFC3339Nano, c.Date)
		if err != nil {
			return nil, err
		}
		out = append(out, source.Change{Resource: c.Resource, Type: c.Type, ObjectID: c.ID, Date: d, Raw: []byte(`{"id":"` + c.ID + `"}`)})
	}
	return out, nil
}

type eventSink struct {
	mu     sync.Mutex
	events map[string]int    // objectId@date → deliveries
	types  map[string]string // objectId@date → eventType
}

func (s *eventSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Message struct {
			Events []struct{ ObjectID, Date, EventType string }
		}
	}
	b, _ := io.ReadAll(r.Body)
	json.Unmarshal(b, &m)
	s.mu.Lock()
	for _, ev := range m.Message.Events {
		d, _ := time.Parse(time.RFC3339Nano, ev.Date)
		k := ev.ObjectID + "@" + d.UTC().Format(time.RFC3339Nano)
		s.events[k]++
		if s.types == nil {
			s.types = map[string]string{}
		}
		s.types[k] = ev.EventType
	}
	s.mu.Unlock()
}

func (s *eventSink) wait(t *testing.T, n int) map[string]int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		s.mu.Lock()
		total := 0
		for _, c := range s.events {
			total += c
		}
		cp := map[string]int{}
		for k, v := range s.events {
			cp[k] = v
		}
		s.mu.Unlock()
		if total >= n {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d events, have %v", n, cp)
		}
	}
}

// TestWebhookIntakeAndHybridDedupe: pushes are verified before anything is
// queued, answered once durable, and a change seen by both the push and the
// poller is delivered once.
func TestWebhookIntakeAndHybridDedupe(t *testing.T) {
	sim := rest.NewSimulator(rest.SimOptions{})
	vendor := httptest.NewServer(sim)
	defer vendor.Close()
	sink := &eventSink{events: map[string]int{}}
	callback := httptest.NewServer(sink)
	defer callback.Close()
	d, err := Start(context.Background(), Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), UserSecret: "u-secret", OrgSecret: "o-secret",
		AllowPrivateCallbacks: true, Out: io.Discard, Logger: slog.New(slog.DiscardHandler),
		Sources: map[string]source.Source{"rest": hookSource{rest.New()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	e := &e2e{t: t, base: "http://" + d.Addr()}
	var inst struct {
		ID int64 `json:"id"`
	}
	e.do("POST", "/elements/api-v2/instances", map[string]any{
		"connector": map[string]any{"key": "rest"}, "name": "hybrid",
		"configuration": map[string]any{
			"base.url": vendor.URL, "event.notification.enabled": "true",
			"event.notification.callback.url": callback.URL,
			"event.webhook.signature.key":     "hook-key",
			"event.poller.refresh_interval":   "cron:0 0 1 1 *",
			"event.poller.configuration": map[string]any{"contacts": map[string]any{
				"url":                "/plain/contacts?updated_since=${epoch}",
				"datesConfiguration": map[string]any{"updatedDateField": "updated_at", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX"},
			}},
		},
	}, &inst)
	if inst.ID == 0 {
		t.Fatal("provisioning failed")
	}
	// Dated a second ahead so the millisecond dates are surely after the
	// instance's creation.
	at := time.Now().Add(time.Second)
	r1 := sim.PutAt("contacts", map[string]any{"id": "r1"}, at)
	sim.PutAt("contacts", map[string]any{"id": "r2"}, at)
	d1, _ := time.Parse("2006-01-02T15:04:05.000Z", r1["updated_at"].(string))

	push := func(path string, body []byte, sig string, hdr map[string]string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", e.base+path, bytes.NewReader(body))
		req.Header.Set("X-Test-Signature", sig)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	sign := func(b []byte) string {
		mac := hmac.New(sha256.New, []byte("hook-key"))
		mac.Write(b)
		return hex.EncodeToString(mac.Sum(nil))
	}
	body, _ := json.Marshal([]map[string]string{{"Resource": "contacts", "Type": "UPDATED", "ID": "r1", "Date": d1.Format(time.RFC3339Nano)}})
	path := engine.IntakePath("rest", inst.ID)

	if st, _ := push(path, body, "00"+sign(body)[2:], nil); st != http.StatusUnauthorized {
		t.Fatalf("wrong signature: %d, want 401", st)
	}
	if st, _ := push(path, append([]byte(" "), body...), sign(body), nil); st != http.StatusUnauthorized {
		t.Fatalf("tampered body: %d, want 401", st)
	}
	if st, _ := push(engine.IntakePath("rest", inst.ID+100), body, sign(body), nil); st != http.StatusNotFound {
		t.Fatalf("unknown instance: %d, want 404", st)
	}
	var rows []eventRow
	e.do("GET", fmt.Sprintf("/elements/api-v2/instances/%d/events", inst.ID), nil, &rows)
	if len(rows) != 0 {
		t.Fatalf("refused pushes queued %d notifications", len(rows))
	}

	if st, out := push(path, body, sign(body), nil); st != http.StatusOK || out["accepted"] != float64(1) {
		t.Fatalf("valid push: %d %v", st, out)
	}
	// The vendor retries the same push (our answer was lost): dropped.
	if st, out := push("/elements/api-v2/events/rest", body, sign(body), map[string]string{"Element-Instances": fmt.Sprint(inst.ID)}); st != http.StatusOK || out["accepted"] != float64(0) {
		t.Fatalf("repeated push: %d %v", st, out)
	}
	sink.wait(t, 1)
	// The poller then sees r1 (already pushed) and r2 (not): only r2 is new.
	if st := e.do("POST", fmt.Sprintf("/elements/api-v2/instances/%d/pollers/contacts/run", inst.ID), nil, nil); st != http.StatusAccepted {
		t.Fatalf("run: %d", st)
	}
	got := sink.wait(t, 2)
	// The outbox is the proof: one notification from the push, one from the
	// poll, one event each.
	rows = nil
	e.do("GET", fmt.Sprintf("/elements/api-v2/instances/%d/events", inst.ID), nil, &rows)
	if len(rows) != 2 {
		t.Fatalf("event log %+v, want 2 notifications", rows)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.events) != 2 {
		t.Fatalf("events %v, want r1 and r2 once each", sink.events)
	}
	for k, n := range sink.events {
		if n != 1 {
			t.Fatalf("%s delivered %d times (%v)", k, n, got)
		}
	}
}
