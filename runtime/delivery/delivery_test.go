package delivery

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Test 1: a consumer verifies both signatures from what it receives, and a
// retry is signed afresh with its own timestamp.
func TestSignaturesVerifyAtTheCallback(t *testing.T) {
	const plainKey = "plain-secret"
	const whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	keys := map[int64]string{1: plainKey, 2: whsec, 3: ""}

	e := newEnv(t)
	cb := newCallback(t, e.clk, func(n int, w http.ResponseWriter, r *http.Request) {
		// The whsec instance fails its first attempt so that a retry
		// shows a fresh timestamp and signature.
		if r.URL.Query().Get("i") == "2" && r.Header.Get("webhook-timestamp") == strconv.FormatInt(t0.Unix(), 10) {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	e.start(func(c *Config) { c.Keys = func(id int64) string { return keys[id] } })
	for i := int64(1); i <= 3; i++ {
		e.d.Enqueue(e.delivery(uint64(i), i, fmt.Sprintf("%s/hook?i=%d", cb.URL, i)))
	}
	instanceOf := func(h hit) int64 {
		// Each instance has one delivery, Seq = instance id.
		inst, _ := strconv.ParseInt(strings.TrimPrefix(h.header.Get(HeaderElementsID), "evt-"), 10, 64)
		return inst
	}
	got := map[int64]int{}
	for range 3 {
		h := cb.next(t)
		inst := instanceOf(h)
		if err := verify(h.header, h.body, keys[inst], h.at); err != nil {
			t.Errorf("instance %d: %v", inst, err)
		}
		got[inst]++
	}
	if len(got) != 3 {
		t.Fatalf("requests per instance %v", got)
	}
	for range 3 {
		e.nextSave()
	}
	e.advance(1, 5*time.Minute)
	h := cb.next(t)
	if inst := instanceOf(h); inst != 2 || !h.at.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("retry of instance %d at %s", inst, h.at)
	}
	if err := verify(h.header, h.body, whsec, h.at); err != nil {
		t.Errorf("retry: %v", err)
	}
	if d := e.nextSave(); d.Status != Delivered {
		t.Fatalf("retry saved %+v", d)
	}
}

// verify checks a request the way a consumer would, from the raw body and
// headers only.
func verify(h http.Header, body []byte, key string, now time.Time) error {
	if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "pollwire" {
		return fmt.Errorf("content type %q, user agent %q", h.Get("Content-Type"), h.Get("User-Agent"))
	}
	id := h.Get("Elements-Webhook-Id")
	if !strings.Contains(string(body), `"eventId": "`+id+`"`) {
		return fmt.Errorf("Elements-Webhook-Id %q is not the body's eventId: %s", id, body)
	}
	if key == "" {
		for _, k := range []string{"Elements-Webhook-Signature", "webhook-id", "webhook-timestamp", "webhook-signature"} {
			if h.Get(k) != "" {
				return fmt.Errorf("no key, yet %s: %s", k, h.Get(k))
			}
		}
		return nil
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	if want := "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil)); h.Get("Elements-Webhook-Signature") != want {
		return fmt.Errorf("Elements-Webhook-Signature %q, want %q", h.Get("Elements-Webhook-Signature"), want)
	}
	if !strings.HasPrefix(key, "whsec_") {
		if h.Get("webhook-signature") != "" {
			return errors.New("Standard Webhooks headers without a whsec_ key")
		}
		return nil
	}
	if h.Get("webhook-id") != id {
		return fmt.Errorf("webhook-id %q, want %q", h.Get("webhook-id"), id)
	}
	ts := h.Get("webhook-timestamp")
	if ts != strconv.FormatInt(now.Unix(), 10) {
		return fmt.Errorf("webhook-timestamp %s, attempt at %d", ts, now.Unix())
	}
	secret, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, "whsec_"))
	if err != nil {
		return err
	}
	mac = hmac.New(sha256.New, secret)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); h.Get("webhook-signature") != want {
		return fmt.Errorf("webhook-signature %q, want %q", h.Get("webhook-signature"), want)
	}
	return nil
}

// Test 2: two failures, then success, at the retry interval.
func TestFailTwiceThenDelivered(t *testing.T) {
	e := newEnv(t)
	cb := newCallback(t, e.clk, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			http.Error(w, "database is down", http.StatusInternalServerError)
		}
	})
	e.start()
	d := e.delivery(1, 7, cb.URL)
	e.d.Enqueue(d)

	var saves []Delivery
	for i, want := range []time.Duration{0, 5 * time.Minute, 10 * time.Minute} {
		if i > 0 {
			e.advance(1, 5*time.Minute)
		}
		h := cb.next(t)
		if !h.at.Equal(t0.Add(want)) {
			t.Errorf("attempt %d at %s, want t0+%s", i+1, h.at, want)
		}
		if string(h.body) != string(d.Body) || h.header.Get(HeaderElementsID) != "evt-1" {
			t.Errorf("attempt %d: body %q, id %q", i+1, h.body, h.header.Get(HeaderElementsID))
		}
		saves = append(saves, e.nextSave())
	}
	wantSaves := []struct {
		attempts int
		status   Status
		code     int
		next     time.Time
		errText  string
	}{
		{1, Pending, 500, t0.Add(5 * time.Minute), "callback answered 500 Internal Server Error: database is down"},
		{2, Pending, 500, t0.Add(10 * time.Minute), "callback answered 500 Internal Server Error: database is down"},
		{3, Delivered, 200, time.Time{}, ""},
	}
	for i, w := range wantSaves {
		s := saves[i]
		if s.Attempts != w.attempts || s.Status != w.status || s.LastStatus != w.code || !s.NextAttempt.Equal(w.next) || s.LastError != w.errText {
			t.Errorf("save %d = {attempts %d, %s, %d, next %s, %q}, want %+v", i+1, s.Attempts, s.Status, s.LastStatus, s.NextAttempt, s.LastError, w)
		}
	}
	if got := saves[2].DeliveredAt; !got.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("DeliveredAt %s", got)
	}
	if r, _ := e.st.row(1); r.Status != Delivered || r.Attempts != 3 {
		t.Errorf("stored row %+v", r)
	}
	// The body left memory after the first failure and was reloaded for
	// each retry.
	if n := e.st.loads.Load(); n != 2 {
		t.Errorf("LoadBody called %d times, want 2", n)
	}
	e.idle()
	if got := e.metric("pollwire_delivery_attempts_total", "outcome", "http_error"); got != 2 {
		t.Errorf("http_error attempts %v", got)
	}
	if got := e.metric("pollwire_delivery_attempts_total", "outcome", "success"); got != 1 {
		t.Errorf("success attempts %v", got)
	}
	if got := e.metric("pollwire_deliveries_total", "outcome", "delivered"); got != 1 {
		t.Errorf("delivered %v", got)
	}
	if got := e.histogramCount("pollwire_delivery_duration_seconds"); got != 3 {
		t.Errorf("duration samples %d", got)
	}
}

// Test 3: a callback that never accepts sees 1+3 attempts; a redelivery
// after the lead's reset succeeds once the consumer is fixed.
func TestNeverAcceptedThenRedelivered(t *testing.T) {
	e := newEnv(t)
	var fixed atomic.Bool
	cb := newCallback(t, e.clk, func(n int, w http.ResponseWriter, r *http.Request) {
		if !fixed.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	e.start()
	e.d.Enqueue(e.delivery(1, 7, cb.URL))

	for i := range 4 {
		if i > 0 {
			e.advance(1, 5*time.Minute)
		}
		if h := cb.next(t); !h.at.Equal(t0.Add(time.Duration(i) * 5 * time.Minute)) {
			t.Errorf("attempt %d at %s", i+1, h.at)
		}
		e.nextSave()
	}
	r, _ := e.st.row(1)
	if r.Status != Failed || r.Attempts != 4 || r.LastStatus != 502 || !strings.Contains(r.LastError, "502") || !r.NextAttempt.IsZero() {
		t.Fatalf("after the last retry: %+v", r)
	}
	if n := e.clk.Timers(); n != 0 {
		t.Fatalf("%d timers armed for a failed delivery", n)
	}
	e.clk.Advance(time.Hour)
	cb.none(t)
	e.idle()
	if got := e.metric("pollwire_deliveries_total", "outcome", "failed"); got != 1 {
		t.Errorf("failed deliveries %v", got)
	}

	fixed.Store(true)
	e.d.Enqueue(e.st.resetForRetry(1, e.clk.Now()))
	if h := cb.next(t); h.header.Get(HeaderElementsID) != "evt-1" {
		t.Errorf("redelivery id %q", h.header.Get(HeaderElementsID))
	}
	if s := e.nextSave(); s.Status != Delivered || s.Attempts != 1 || s.LastError != "" {
		t.Errorf("redelivery saved %+v", s)
	}
	e.clk.Advance(time.Hour)
	cb.none(t)
}

// Test 4: Retry-After longer than the interval postpones the retry.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		maxRA      time.Duration
		want       time.Duration
	}{
		{"longer seconds", "600", 0, 10 * time.Minute},
		{"shorter seconds", "60", 0, 5 * time.Minute},
		{"http date", t0.Add(15 * time.Minute).Format(http.TimeFormat), 0, 15 * time.Minute},
		{"capped", "86400000", time.Hour, time.Hour},
		{"malformed", "soon", 0, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cb := newCallback(t, e.clk, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", tc.retryAfter)
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})
			e.start(func(c *Config) { c.MaxRetryAfter = tc.maxRA })
			e.d.Enqueue(e.delivery(1, 1, cb.URL))
			cb.next(t)
			if s := e.nextSave(); !s.NextAttempt.Equal(t0.Add(tc.want)) {
				t.Errorf("NextAttempt %s, want t0+%s", s.NextAttempt, tc.want)
			}
			// The fake clock's Advance moves time to its target before
			// the dispatcher wakes, so go exactly to the due time.
			e.advance(1, tc.want-time.Second)
			cb.none(t)
			e.clk.Advance(time.Second)
			if h := cb.next(t); !h.at.Equal(t0.Add(tc.want)) {
				t.Errorf("retry at %s, want t0+%s", h.at, tc.want)
			}
			if s := e.nextSave(); s.Status != Delivered {
				t.Errorf("retry saved %+v", s)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"":                  0,
		"0":                 0,
		"-5":                0,
		" 120 ":             2 * time.Minute,
		"99999999999999999": 1<<63 - 1,
		t0.Add(-time.Hour).Format(http.TimeFormat): 0,
		t0.Add(time.Hour).Format(http.TimeFormat):  time.Hour,
		"Fri, 31 Dec 1999 23:59:59":                0,
	} {
		if got := parseRetryAfter(in, t0); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

// Test 5: a hanging callback holds only its own slots; another URL gets all
// of its deliveries meanwhile.
func TestHangingURLDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t)
	a := newCallback(t, e.clk, hang(t))
	b := newCallback(t, e.clk, status(http.StatusNoContent))
	e.start()

	for i := range 10 {
		e.d.Enqueue(e.delivery(uint64(1+i), 1, a.URL))
	}
	for range DefaultPerURLConcurrency {
		a.next(t)
	}
	for i := range 20 {
		e.d.Enqueue(e.delivery(uint64(100+i), 2, b.URL))
	}
	seen := map[string]bool{}
	for range 20 {
		seen[b.next(t).header.Get(HeaderElementsID)] = true
	}
	for range 20 {
		if s := e.nextSave(); s.Status != Delivered || s.InstanceID != 2 {
			t.Fatalf("saved %+v while A hangs", s)
		}
	}
	if len(seen) != 20 {
		t.Errorf("B got %d distinct deliveries", len(seen))
	}
	// A is still hanging with exactly its concurrency in flight.
	a.none(t)
	if got := a.n.Load(); got != DefaultPerURLConcurrency {
		t.Errorf("A has %d requests, want %d in flight", got, DefaultPerURLConcurrency)
	}
	e.eventually("B's deliveries leave the dispatcher", func() bool { return len(e.d.Depth()) == 1 })
	if depth := e.d.Depth(); depth[a.host()] != 10 {
		t.Errorf("Depth = %v, want 10 for %s only", depth, a.host())
	}
	if got := e.metric("pollwire_outbox_depth", "host", a.host()); got != 10 {
		t.Errorf("pollwire_outbox_depth{host=%q} = %v", a.host(), got)
	}
}

// A callback that does not answer within Timeout fails the attempt; the
// timeout runs on the injected clock.
func TestTimeout(t *testing.T) {
	e := newEnv(t)
	cb := newCallback(t, e.clk, hang(t))
	e.start()
	e.d.Enqueue(e.delivery(1, 1, cb.URL))
	cb.next(t)
	e.advance(1, 30*time.Second)
	s := e.nextSave()
	if s.Attempts != 1 || s.Status != Pending || s.LastStatus != 0 || s.LastError != "no answer within 30s" ||
		!s.NextAttempt.Equal(t0.Add(30*time.Second+5*time.Minute)) {
		t.Fatalf("saved %+v", s)
	}
	if got := e.metric("pollwire_delivery_attempts_total", "outcome", "timeout"); got != 1 {
		t.Errorf("timeout attempts %v", got)
	}
}

// Test 6: after a restart the persisted attempt count and next-attempt time
// are honoured.
func TestRestartHonoursPersistedAttempts(t *testing.T) {
	e := newEnv(t)
	cb := newCallback(t, e.clk, status(http.StatusInternalServerError))
	d := e.delivery(7, 1, cb.URL)
	d.Attempts, d.MaxRetries, d.NextAttempt, d.LastStatus = 2, 2, t0.Add(3*time.Minute), 500
	d.CreatedAt = t0.Add(-10 * time.Minute)
	e.st.put(d)
	e.start()

	e.advance(1, 3*time.Minute-time.Second)
	cb.none(t)
	if e.clk.Timers() != 1 {
		t.Fatalf("timers %d, want the one for t0+3m", e.clk.Timers())
	}
	e.clk.Advance(time.Second)
	h := cb.next(t)
	if !h.at.Equal(t0.Add(3*time.Minute)) || string(h.body) != string(d.Body) {
		t.Errorf("attempt at %s with body %q", h.at, h.body)
	}
	if s := e.nextSave(); s.Attempts != 3 || s.Status != Failed {
		t.Errorf("third attempt saved %+v, want Failed", s)
	}
	e.clk.Advance(time.Hour)
	cb.none(t)
}

// Test 8a: Forget drops queued deliveries of an instance and cancels its
// attempts in flight, unrecorded; other instances are untouched.
func TestForget(t *testing.T) {
	e := newEnv(t)
	cancelled := make(chan struct{}, 1)
	block := hang(t)
	hanging := newCallback(t, e.clk, func(n int, w http.ResponseWriter, r *http.Request) {
		block(n, w, r)
		if r.Context().Err() != nil {
			cancelled <- struct{}{}
		}
	})
	cb := newCallback(t, e.clk, status(http.StatusOK))
	e.start()

	for seq := uint64(1); seq <= 3; seq++ {
		d := e.delivery(seq, int64(1+seq/3), cb.URL) // instance 1: seq 1, 2; instance 2: seq 3
		d.NextAttempt = t0.Add(time.Minute)
		e.d.Enqueue(d)
	}
	e.d.Enqueue(e.delivery(4, 1, hanging.URL))
	hanging.next(t)
	if got := e.d.Depth(); got[cb.host()] != 3 || got[hanging.host()] != 1 {
		t.Fatalf("Depth before Forget: %v", got)
	}

	e.st.deleteInstance(1)
	e.d.Forget(1)
	if got := e.d.Depth(); got[cb.host()] != 1 || len(got) != 1 {
		t.Errorf("Depth after Forget: %v", got)
	}
	select {
	case <-cancelled:
	case <-time.After(wait):
		t.Fatal("the attempt in flight for the forgotten instance was not cancelled")
	}
	e.clk.Advance(time.Minute)
	if h := cb.next(t); h.header.Get(HeaderElementsID) != "evt-3" {
		t.Errorf("delivered %s, want only evt-3", h.header.Get(HeaderElementsID))
	}
	if s := e.nextSave(); s.Seq != 3 {
		t.Errorf("saved %+v", s)
	}
	cb.none(t)
	if h := e.st.history(); len(h) != 1 {
		t.Errorf("saves %+v, want only seq 3", h)
	}
}

// Test 8b: Stop returns promptly while attempts hang, records none of them,
// and a restart makes them again.
func TestStopAbandonsInFlight(t *testing.T) {
	e := newEnv(t)
	var accept atomic.Bool
	block := hang(t)
	cb := newCallback(t, e.clk, func(n int, w http.ResponseWriter, r *http.Request) {
		if !accept.Load() {
			block(n, w, r)
		}
	})
	e.start()
	for seq := uint64(1); seq <= 3; seq++ {
		e.d.Enqueue(e.delivery(seq, 1, cb.URL))
	}
	for range 3 {
		cb.next(t)
	}
	stopped := make(chan struct{})
	go func() { e.d.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		t.Fatal("Stop did not return with attempts in flight")
	}
	if h := e.st.history(); len(h) != 0 {
		t.Fatalf("abandoned attempts recorded: %+v", h)
	}
	e.d.Enqueue(e.delivery(9, 1, cb.URL)) // after Stop: ignored, the outbox has it
	if err := e.d.Start(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop: %v", err)
	}

	accept.Store(true)
	e.start()
	for range 4 {
		cb.next(t)
	}
	for range 4 {
		if s := e.nextSave(); s.Status != Delivered || s.Attempts != 1 {
			t.Errorf("after restart saved %+v", s)
		}
	}
}

func TestStopIsSafeWithoutStart(t *testing.T) {
	e := newEnv(t)
	e.st.pendErr = errors.New("store closed")
	d := New(Config{Store: e.st, Clock: e.clk})
	if err := d.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "store closed") {
		t.Fatalf("Start: %v", err)
	}
	d.Stop()
	d.Stop()
	New(Config{Store: e.st}).Stop()
}

// A store that cannot record an attempt delays the next one until it can;
// the delivery is neither lost nor posted twice for one recorded attempt.
func TestSaveAttemptFailureIsRetried(t *testing.T) {
	e := newEnv(t)
	cb := newCallback(t, e.clk, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	e.st.failSaves = 2
	e.start()
	e.d.Enqueue(e.delivery(1, 1, cb.URL))
	cb.next(t)
	for i, backoff := range []time.Duration{time.Second, 2 * time.Second} {
		if err := e.nextCall(); err == nil {
			t.Fatalf("save %d succeeded", i+1)
		}
		e.advance(1, backoff)
	}
	s := e.nextSave()
	if s.Attempts != 1 || !s.NextAttempt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("saved %+v", s)
	}
	e.nextCall()
	cb.none(t)
	e.st.mu.Lock()
	e.st.failSaves = 1 // the success must be recorded too
	e.st.mu.Unlock()
	// The retry is due 5 minutes after the attempt, not after the save.
	e.advance(1, 5*time.Minute-3*time.Second)
	if h := cb.next(t); !h.at.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("retry at %s", h.at)
	}
	if err := e.nextCall(); err == nil {
		t.Fatal("save of the success did not fail")
	}
	e.advance(1, time.Second)
	if s := e.nextSave(); s.Status != Delivered || s.Attempts != 2 {
		t.Fatalf("saved %+v", s)
	}
	cb.none(t)
	if n := cb.n.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// Deliveries due together to one URL go out in Seq order; Enqueue of a
// Seq already held (loaded by Start too) sends it once.
func TestOrderAndDuplicates(t *testing.T) {
	e := newEnv(t)
	cb := newCallback(t, e.clk, status(http.StatusOK))
	for seq := uint64(1); seq <= 5; seq++ {
		d := e.delivery(seq, 1, cb.URL)
		d.NextAttempt = t0.Add(-time.Duration(seq) * time.Second) // 5 is the most overdue
		e.st.put(d)
	}
	// Enqueued before Start, and loaded by Start as well.
	dup := e.delivery(3, 1, cb.URL)
	dup.NextAttempt = t0.Add(-3 * time.Second)
	e.st.put(dup)
	e.beforeStart = func(d *Dispatcher) { d.Enqueue(dup) }
	e.start(func(c *Config) { c.PerURLConcurrency = 1 })
	var order []string
	for range 5 {
		order = append(order, cb.next(t).header.Get(HeaderElementsID))
	}
	if got := strings.Join(order, ","); got != "evt-5,evt-4,evt-3,evt-2,evt-1" {
		t.Errorf("order %s", got)
	}
	cb.none(t)
}

// The default client refuses a loopback callback; the attempt fails with
// the hint and is retried like any transport error.
func TestDefaultClientRefusesLoopback(t *testing.T) {
	e := newEnv(t)
	cb := newCallback(t, e.clk, status(http.StatusOK))
	e.start(func(c *Config) { c.Client = nil })
	e.d.Enqueue(e.delivery(1, 1, cb.URL))
	s := e.nextSave()
	if s.Status != Pending || s.LastStatus != 0 || !strings.Contains(s.LastError, "POLLWIRE_ALLOW_PRIVATE_CALLBACKS=true") ||
		strings.Contains(s.LastError, cb.URL) {
		t.Errorf("saved %+v", s)
	}
	if got := e.metric("pollwire_delivery_attempts_total", "outcome", "transport_error"); got != 1 {
		t.Errorf("transport errors %v", got)
	}
	if cb.n.Load() != 0 {
		t.Error("the loopback server was reached")
	}
}

// A URL costs nothing once its work is done, and a URL waiting for a retry
// holds a queue entry but no goroutine.
func TestIdleURLsCostNothing(t *testing.T) {
	e := newEnv(t)
	ok := newCallback(t, e.clk, status(http.StatusOK))
	failing := newCallback(t, e.clk, status(http.StatusInternalServerError))
	e.start()
	for i := range 50 {
		e.d.Enqueue(e.delivery(uint64(1+i), int64(1+i), fmt.Sprintf("%s/instance/%d", ok.URL, i)))
	}
	e.d.Enqueue(e.delivery(100, 100, failing.URL))
	for range 51 {
		e.nextSave()
	}
	e.eventually("only the failing URL left", func() bool {
		e.d.mu.Lock()
		defer e.d.mu.Unlock()
		q := e.d.queues[failing.URL]
		return len(e.d.queues) == 1 && q != nil && q.active == 0 && len(q.items) == 1 && len(e.d.items) == 1
	})
}
