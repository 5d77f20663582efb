package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pollwire/pollwire/connectors/rest"
	"github.com/pollwire/pollwire/runtime/clock"
)

// flakyCallback fails until fixed and records when (on the fake clock)
// each attempt arrived.
type flakyCallback struct {
	clk      *clock.Fake
	fixed    atomic.Bool
	mu       sync.Mutex
	attempts []time.Time
	eventIDs []string
}

func (c *flakyCallback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	c.mu.Lock()
	c.attempts = append(c.attempts, c.clk.Now())
	c.eventIDs = append(c.eventIDs, r.Header.Get("Elements-Webhook-Id"))
	c.mu.Unlock()
	if !c.fixed.Load() {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type e2e struct {
	t    *testing.T
	base string
}

func (e *e2e) do(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	req.Header.Set("Authorization", "User u-secret, Organization o-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

type eventRow struct {
	EventID  string `json:"eventId"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
}

// waitEvent polls the event log (real time, bounded) until check holds.
func (e *e2e) waitEvent(id int64, check func([]eventRow) bool) []eventRow {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		var rows []eventRow
		e.do("GET", fmt.Sprintf("/elements/api-v2/instances/%d/events", id), nil, &rows)
		if check(rows) {
			return rows
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("event log never reached the expected state: %+v", rows)
		}
	}
}

// TestRetriesThroughTheDaemon drives the whole daemon with a fake clock: a
// callback that never answers 2xx gets 1 + 3 attempts 5 minutes apart, the
// delivery is then failed, and the retry API delivers it once fixed.
func TestRetriesThroughTheDaemon(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	sim := rest.NewSimulator(rest.SimOptions{Now: clk.Now})
	vendor := httptest.NewServer(sim)
	defer vendor.Close()
	cb := &flakyCallback{clk: clk}
	callback := httptest.NewServer(cb)
	defer callback.Close()

	d, err := Start(context.Background(), Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), UserSecret: "u-secret", OrgSecret: "o-secret",
		AllowPrivateCallbacks: true, Clock: clk, Out: io.Discard,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	e := &e2e{t: t, base: "http://" + d.Addr()}

	var inst struct {
		ID int64 `json:"id"`
	}
	status := e.do("POST", "/elements/api-v2/instances", map[string]any{
		"connector": map[string]any{"key": "rest"}, "name": "flaky",
		"configuration": map[string]any{
			"base.url": vendor.URL, "event.notification.enabled": "true",
			"event.notification.callback.url": callback.URL,
			// A yearly schedule: this test polls by hand through the API.
			"event.poller.refresh_interval": "cron:0 0 1 1 *",
			"event.poller.configuration": map[string]any{"contacts": map[string]any{
				"url":                "/plain/contacts?updated_since=${epoch}",
				"datesConfiguration": map[string]any{"updatedDateField": "updated_at", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX", "createdDateField": "created_at", "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX"},
			}},
		},
	}, &inst)
	if status != 200 || inst.ID == 0 {
		t.Fatalf("provision: %d %+v", status, inst)
	}
	clk.Advance(time.Second)
	sim.Put("contacts", map[string]any{"id": "c1"})
	clk.Advance(time.Second)
	if st := e.do("POST", fmt.Sprintf("/elements/api-v2/instances/%d/pollers/contacts/run", inst.ID), nil, nil); st != http.StatusAccepted {
		t.Fatalf("run poller: %d", st)
	}
	pollAt := clk.Now()
	for attempt := 1; attempt <= 4; attempt++ {
		e.waitEvent(inst.ID, func(rows []eventRow) bool { return len(rows) == 1 && rows[0].Attempts == attempt })
		if attempt < 4 {
			clk.Advance(5 * time.Minute)
		}
	}
	rows := e.waitEvent(inst.ID, func(rows []eventRow) bool { return rows[0].Status == "failed" })
	var failed []eventRow
	e.do("GET", fmt.Sprintf("/elements/api-v2/instances/%d/deliveries?status=failed", inst.ID), nil, &failed)
	if len(failed) != 1 || failed[0].EventID != rows[0].EventID {
		t.Fatalf("failed deliveries %+v", failed)
	}
	cb.mu.Lock()
	for i, at := range cb.attempts {
		if want := pollAt.Add(time.Duration(i) * 5 * time.Minute); !at.Equal(want) {
			t.Errorf("attempt %d at %v, want %v", i+1, at, want)
		}
	}
	if len(cb.attempts) != 4 {
		t.Fatalf("%d attempts, want 1 + 3", len(cb.attempts))
	}
	cb.mu.Unlock()

	// Fixed: the retry API redelivers it once, with the same eventId.
	cb.fixed.Store(true)
	var res struct {
		Retried int `json:"retried"`
	}
	if st := e.do("POST", fmt.Sprintf("/elements/api-v2/instances/%d/deliveries/retry?since=%s", inst.ID, t0.Format(time.RFC3339)), nil, &res); st != http.StatusAccepted || res.Retried != 1 {
		t.Fatalf("retry: %d %+v", st, res)
	}
	e.waitEvent(inst.ID, func(rows []eventRow) bool { return rows[0].Status == "delivered" })
	cb.mu.Lock()
	if len(cb.eventIDs) != 5 || cb.eventIDs[4] != rows[0].EventID {
		t.Fatalf("eventIds %v, want 5 attempts of %s", cb.eventIDs, rows[0].EventID)
	}
	cb.mu.Unlock()
	// A delivered one is not retried again.
	if st := e.do("POST", fmt.Sprintf("/elements/api-v2/instances/%d/deliveries/%s/retry", inst.ID, rows[0].EventID), nil, nil); st != http.StatusConflict {
		t.Fatalf("retry of a delivered event: %d, want 409", st)
	}

	var pollers []struct {
		Resource  string    `json:"resource"`
		Watermark time.Time `json:"watermark"`
		Polls     int       `json:"polls"`
		Events    int       `json:"events"`
	}
	e.do("GET", fmt.Sprintf("/elements/api-v2/instances/%d/pollers", inst.ID), nil, &pollers)
	if len(pollers) != 1 || pollers[0].Polls != 1 || pollers[0].Events != 1 || !pollers[0].Watermark.Equal(pollAt) {
		t.Fatalf("pollers %+v", pollers)
	}
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`pollwire_polls_total{outcome="success"} 1`, `pollwire_events_total{type="CREATED"} 1`, `pollwire_deliveries_total{outcome="failed"} 1`, `pollwire_deliveries_total{outcome="delivered"} 1`, "pollwire_schedule_lag_seconds", "pollwire_watermark_age_seconds"} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}
