package rest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// hookInstance is a rest instance with the webhook secret and cfg.
func hookInstance(secret string, cfg map[string]string) *instances.Instance {
	inst := &instances.Instance{ID: 3, ConnectorKey: Key, Config: map[string]string{}, Secrets: map[string]string{}}
	if secret != "" {
		inst.Secrets[connectors.KeyWebhookSecret] = secret
	}
	for k, v := range cfg {
		inst.Config[k] = v
	}
	return inst
}

func hmacOf(secret, msg string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// TestVerifyVector checks against a signature computed outside Go
// (openssl dgst -sha256 -hmac rest-secret) of timestamp + "." + body.
func TestVerifyVector(t *testing.T) {
	h := http.Header{}
	h.Set("X-Signature", "sha256=f24aea323a5787e570b9806854462442c74fd613c7f24a07c2443c38f8dbd0af")
	h.Set("X-Timestamp", "1700000000")
	req := &source.WebhookRequest{
		Instance: hookInstance("rest-secret", map[string]string{KeyWebhookTimestampHeader: "X-Timestamp"}),
		Method:   "POST", Header: h, Body: []byte(`{"id":"c_1"}`), Now: time.Unix(1700000030, 0),
	}
	if err := New().Verify(req); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	const (
		secret = "push-secret"
		body   = `{"kind":"contacts","event":"updated","id":"c_1"}`
	)
	now := t0
	ts := strconv.FormatInt(now.Unix(), 10)
	hexSig := hex.EncodeToString(hmacOf(secret, body))
	b64Sig := base64.StdEncoding.EncodeToString(hmacOf(secret, body))
	tsSig := hex.EncodeToString(hmacOf(secret, ts+"."+body))
	withTS := map[string]string{KeyWebhookTimestampHeader: "X-Timestamp"}
	cases := []struct {
		name    string
		secret  string
		cfg     map[string]string
		headers map[string]string
		body    string
		now     time.Time
		want    string // "" accepts, else a fragment of the refusal
	}{
		{"hex", secret, nil, map[string]string{"X-Signature": hexSig}, body, now, ""},
		{"hex with sha256= prefix", secret, nil, map[string]string{"X-Signature": "sha256=" + hexSig}, body, now, ""},
		{"upper-case hex and prefix", secret, nil, map[string]string{"X-Signature": "SHA256=" + strings.ToUpper(hexSig)}, body, now, ""},
		{"base64", secret, map[string]string{KeyWebhookSignatureEncoding: EncodingBase64}, map[string]string{"X-Signature": b64Sig}, body, now, ""},
		{"base64 URL-safe unpadded", secret, map[string]string{KeyWebhookSignatureEncoding: EncodingBase64},
			map[string]string{"X-Signature": base64.RawURLEncoding.EncodeToString(hmacOf(secret, body))}, body, now, ""},
		{"own header", secret, map[string]string{KeyWebhookSignatureHeader: "X-Vendor-Sig"}, map[string]string{"X-Vendor-Sig": hexSig}, body, now, ""},
		{"timestamp, seconds", secret, withTS, map[string]string{"X-Signature": tsSig, "X-Timestamp": ts}, body, now, ""},
		{"timestamp, milliseconds", secret, withTS, map[string]string{
			"X-Signature": hex.EncodeToString(hmacOf(secret, strconv.FormatInt(now.UnixMilli(), 10)+"."+body)),
			"X-Timestamp": strconv.FormatInt(now.UnixMilli(), 10)}, body, now, ""},
		{"timestamp, RFC 3339", secret, withTS, map[string]string{
			"X-Signature": hex.EncodeToString(hmacOf(secret, "2026-03-01T12:00:00Z."+body)),
			"X-Timestamp": "2026-03-01T12:00:00Z"}, body, now, ""},
		{"wrong signature", secret, nil, map[string]string{"X-Signature": hex.EncodeToString(hmacOf("other", body))}, body, now, "does not match"},
		{"tampered body", secret, nil, map[string]string{"X-Signature": hexSig}, strings.Replace(body, "c_1", "c_2", 1), now, "does not match"},
		{"stale timestamp (6 min old)", secret, withTS, map[string]string{"X-Signature": tsSig, "X-Timestamp": ts}, body, now.Add(6 * time.Minute), "old"},
		{"timestamp 6 min ahead", secret, withTS, map[string]string{"X-Signature": tsSig, "X-Timestamp": ts}, body, now.Add(-6 * time.Minute), "ahead"},
		{"timestamp not signed", secret, withTS, map[string]string{"X-Signature": hexSig, "X-Timestamp": ts}, body, now, "does not match"},
		{"timestamp replaced", secret, withTS, map[string]string{"X-Signature": tsSig, "X-Timestamp": strconv.FormatInt(now.Unix()+1, 10)}, body, now, "does not match"},
		{"missing signature header", secret, nil, nil, body, now, "X-Signature header is missing"},
		{"missing own header", secret, map[string]string{KeyWebhookSignatureHeader: "X-Vendor-Sig"}, map[string]string{"X-Signature": hexSig}, body, now, "X-Vendor-Sig header is missing"},
		{"missing timestamp header", secret, withTS, map[string]string{"X-Signature": tsSig}, body, now, "X-Timestamp header is missing"},
		{"timestamp not a time", secret, withTS, map[string]string{"X-Signature": tsSig, "X-Timestamp": "yesterday"}, body, now, "not epoch seconds"},
		{"bad hex", secret, nil, map[string]string{"X-Signature": "zz" + hexSig[2:]}, body, now, "not hex"},
		{"bad base64", secret, map[string]string{KeyWebhookSignatureEncoding: EncodingBase64}, map[string]string{"X-Signature": "***"}, body, now, "not base64"},
		{"hex sent where base64 is configured", secret, map[string]string{KeyWebhookSignatureEncoding: EncodingBase64}, map[string]string{"X-Signature": hexSig}, body, now, "not an HMAC-SHA256"},
		{"short signature", secret, nil, map[string]string{"X-Signature": "abcd"}, body, now, "not an HMAC-SHA256"},
		{"no secret configured", "", nil, map[string]string{"X-Signature": hexSig}, body, now, "no event.webhook.signature.key"},
	}
	src := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range c.headers {
				h.Set(k, v)
			}
			err := src.Verify(&source.WebhookRequest{Instance: hookInstance(c.secret, c.cfg), Method: "POST", Header: h, Body: []byte(c.body), Now: c.now})
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatal("accepted")
			case c.want != "" && (!errors.Is(err, source.ErrSignature) || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %q: want source.ErrSignature mentioning %q", err, c.want)
			}
		})
	}
}

// hookSettings compiles a rest instance with pollers (resource → poller
// object).
func hookSettings(t *testing.T, cfg map[string]string, pollers string) *instances.Settings {
	t.Helper()
	all := map[string]string{"base.url": "https://vendor.example", connectors.KeyPollerConfiguration: pollers}
	for k, v := range cfg {
		all[k] = v
	}
	s, err := instances.Compile(Spec, all)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestChanges(t *testing.T) {
	const two = `{
		"contacts": {"url": "/plain/contacts", "datesConfiguration": {"updatedDateField": "updated_at", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX"}},
		"deals": {"url": "/plain/deals", "idField": "deal.key", "datesConfiguration": {"updatedDateField": "modified", "updatedDateFormat": "milliseconds"}}}`
	const one = `{"contacts": {"url": "/plain/contacts", "datesConfiguration": {"updatedDateField": "updated_at"}}}`
	at := time.Date(2026, 3, 1, 12, 0, 0, 123_000_000, time.UTC)
	paths := map[string]string{KeyWebhookResourcePath: "kind", KeyWebhookTypePath: "event"}
	type want struct {
		res, typ, id string
		date         time.Time
		raw          string
	}
	cases := []struct {
		name    string
		cfg     map[string]string
		pollers string
		body    string
		want    []want
		err     string
	}{
		{"array of records", paths, two,
			`[{"kind":"contacts","event":"created","id":"c_1","updated_at":"2026-03-01T12:00:00.123Z"},` +
				`{"kind":"deals","event":"deal.deleted","deal":{"key":9007199254740993},"modified":1772366400123}]`,
			[]want{
				{"contacts", "CREATED", "c_1", at, `{"kind":"contacts","event":"created","id":"c_1","updated_at":"2026-03-01T12:00:00.123Z"}`},
				{"deals", "DELETED", "9007199254740993", at, `{"kind":"deals","event":"deal.deleted","deal":{"key":9007199254740993},"modified":1772366400123}`},
			}, ""},
		{"one object", paths, two, `{"kind":"contacts","event":"UPDATE","id":"c_1","updated_at":"2026-03-01T12:00:00.123Z"}`,
			[]want{{"contacts", "UPDATED", "c_1", at, `{"kind":"contacts","event":"UPDATE","id":"c_1","updated_at":"2026-03-01T12:00:00.123Z"}`}}, ""},
		{"records path and wrapped record", map[string]string{KeyWebhookRecordsPath: "data.items", KeyWebhookRecordPath: "object", KeyWebhookResourcePath: "object_type", KeyWebhookTypePath: "action"}, two,
			`{"data":{"items":[{"object_type":"contacts","action":"contact_removed","object":{"id":"c_2","updated_at":"2026-03-01T12:00:00.123Z"}}]}}`,
			[]want{{"contacts", "DELETED", "c_2", at, `{"id":"c_2","updated_at":"2026-03-01T12:00:00.123Z"}`}}, ""},
		{"no type path: UPDATED; the only poller's resource", nil, one, `[{"id":7,"updated_at":"2026-03-01T12:00:00.123Z"}]`,
			[]want{{"contacts", "UPDATED", "7", at, `{"id":7,"updated_at":"2026-03-01T12:00:00.123Z"}`}}, ""},
		{"type missing or null: UPDATED", paths, two, `[{"kind":"contacts","id":"a","updated_at":"2026-03-01T12:00:00.123Z"},{"kind":"contacts","event":null,"id":"b","updated_at":"2026-03-01T12:00:00.123Z"}]`,
			[]want{{"contacts", "UPDATED", "a", at, ""}, {"contacts", "UPDATED", "b", at, ""}}, ""},
		{"a resource without a poller: id, no date", paths, two, `{"kind":"tickets","event":"created","id":"t_1"}`,
			[]want{{"tickets", "CREATED", "t_1", time.Time{}, ""}}, ""},
		{"a deletion without its date", paths, two, `{"kind":"contacts","event":"deleted","id":"c_1"}`,
			[]want{{"contacts", "DELETED", "c_1", time.Time{}, ""}}, ""},
		{"records path null", map[string]string{KeyWebhookRecordsPath: "data"}, one, `{"data":null}`, nil, ""},
		{"empty array", nil, one, `[]`, nil, ""},
		{"byte order mark", nil, one, "\xEF\xBB\xBF[]", nil, ""},
		{"not JSON", nil, one, `{"id":`, nil, "not JSON"},
		{"records path missing", map[string]string{KeyWebhookRecordsPath: "data"}, one, `{"items":[]}`, nil, `"data" is not in the push`},
		{"records a string", nil, one, `"x"`, nil, "not an array or an object"},
		{"item not an object", nil, one, `[1]`, nil, "pushed record 0: a number, not an object"},
		{"resource ambiguous", nil, two, `{"id":"c_1"}`, nil, "exactly one poller"},
		{"resource not a string", paths, two, `{"kind":1,"id":"c_1"}`, nil, "no resource name"},
		{"unknown type", paths, two, `{"kind":"contacts","event":"merged","id":"c_1","updated_at":"2026-03-01T12:00:00.123Z"}`, nil, `is "merged", not created`},
		{"wrapped record missing", map[string]string{KeyWebhookRecordPath: "object"}, one, `{"id":"c_1"}`, nil, "empty, not a record"},
		{"no id", paths, two, `{"kind":"contacts","updated_at":"2026-03-01T12:00:00.123Z"}`, nil, `no id at "id"`},
		{"object id", paths, two, `{"kind":"contacts","id":{"a":1},"updated_at":"2026-03-01T12:00:00.123Z"}`, nil, `no id at "id"`},
		{"no date", paths, two, `{"kind":"contacts","event":"updated","id":"c_1"}`, nil, "has no updated_at"},
		{"bad date", paths, two, `{"kind":"contacts","id":"c_1","updated_at":"yesterday"}`, nil, "updated_at"},
	}
	src := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &source.WebhookRequest{Instance: hookInstance("s", c.cfg), Settings: hookSettings(t, c.cfg, c.pollers), Body: []byte(c.body)}
			got, err := src.Changes(req)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one mentioning %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d changes, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.Resource != w.res || g.Type != w.typ || g.ObjectID != w.id || !g.Date.Equal(w.date) || (w.raw != "" && string(g.Raw) != w.raw) {
					t.Errorf("change %d: %s %s %s %s %s\nwant %s %s %s %s %s", i, g.Resource, g.Type, g.ObjectID, g.Date, g.Raw, w.res, w.typ, w.id, w.date, w.raw)
				}
			}
		})
	}
}

// pushReceiver is a webhook endpoint on loopback; answer gives the status
// of the n-th push (0-based), gate holds the first one back until closed.
type pushReceiver struct {
	srv    *httptest.Server
	answer func(n int) int
	gate   chan struct{}

	mu     sync.Mutex
	pushes []pushed
}

type pushed struct {
	header http.Header
	body   []byte
}

func newPushReceiver(t *testing.T, answer func(n int) int) *pushReceiver {
	p := &pushReceiver{answer: answer}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		n := len(p.pushes)
		p.pushes = append(p.pushes, pushed{header: r.Header.Clone(), body: body})
		p.mu.Unlock()
		if n == 0 && p.gate != nil {
			<-p.gate
		}
		status := http.StatusOK
		if p.answer != nil {
			status = p.answer(n)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *pushReceiver) received() []pushed {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pushed(nil), p.pushes...)
}

func flush(t *testing.T, sim *Simulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sim.FlushWebhooks(ctx); err != nil {
		t.Fatalf("FlushWebhooks: %v", err)
	}
}

// simHookConfig is the instance configuration that reads the Simulator's
// pushes.
var simHookConfig = map[string]string{
	KeyWebhookResourcePath: SimPushResource,
	KeyWebhookTypePath:     SimPushType,
	KeyWebhookRecordPath:   SimPushRecord,
}

// TestSimulatorPushSignatures signs the Simulator's pushes each way an
// instance can be configured to verify them.
func TestSimulatorPushSignatures(t *testing.T) {
	cases := []struct {
		name string
		opts SimOptions
		cfg  map[string]string
	}{
		{"defaults", SimOptions{}, nil},
		{"prefixed base64 in own header", SimOptions{WebhookEncoding: EncodingBase64, WebhookPrefix: true, WebhookHeader: "X-Hook-Sig"},
			map[string]string{KeyWebhookSignatureEncoding: EncodingBase64, KeyWebhookSignatureHeader: "X-Hook-Sig"}},
		{"timestamped", SimOptions{WebhookTimestampHeader: "X-Hook-Time"}, map[string]string{KeyWebhookTimestampHeader: "X-Hook-Time"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rcv := newPushReceiver(t, nil)
			c.opts.WebhookURL, c.opts.WebhookSecret = rcv.srv.URL, "push-secret"
			sim := NewSimulator(c.opts)
			sim.Put("contacts", map[string]any{"name": "Ann"})
			flush(t, sim)
			pushes := rcv.received()
			if len(pushes) != 1 {
				t.Fatalf("%d pushes", len(pushes))
			}
			cfg := map[string]string{}
			for k, v := range simHookConfig {
				cfg[k] = v
			}
			for k, v := range c.cfg {
				cfg[k] = v
			}
			req := &source.WebhookRequest{Instance: hookInstance("push-secret", cfg), Method: "POST", Header: pushes[0].header, Body: pushes[0].body, Now: time.Now()}
			if err := New().Verify(req); err != nil {
				t.Fatal(err)
			}
			req.Instance = hookInstance("another-secret", cfg)
			if err := New().Verify(req); !errors.Is(err, source.ErrSignature) {
				t.Fatalf("verified with the wrong secret: %v", err)
			}
		})
	}
}

// TestWebhookDateMatchesPoll checks the dedupe key: a pushed write reads
// as the same (ObjectID, Date) the poller reads for it; a deletion has a
// date of its own.
func TestWebhookDateMatchesPoll(t *testing.T) {
	rcv := newPushReceiver(t, nil)
	clk := t0.Add(123 * time.Millisecond)
	sim, srv := newSim(t, SimOptions{Now: func() time.Time { return clk }, WebhookURL: rcv.srv.URL, WebhookSecret: "k"})
	cfg := map[string]string{
		"base.url": srv.URL,
		connectors.KeyPollerConfiguration: `{"contacts":{"url":"/plain/contacts",` +
			`"datesConfiguration":{"updatedDateField":"updated_at","updatedDateFormat":"yyyy-MM-dd'T'HH:mm:ss.SSSX"}}}`,
	}
	for k, v := range simHookConfig {
		cfg[k] = v
	}
	settings, err := instances.Compile(Spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	inst := hookInstance("k", cfg)
	p, _ := settings.Poller("contacts")
	pushedChanges := func() []source.Change {
		t.Helper()
		flush(t, sim)
		var out []source.Change
		for _, r := range rcv.received() {
			req := &source.WebhookRequest{Instance: inst, Settings: settings, Method: "POST", Header: r.header, Body: r.body, Now: time.Now()}
			if err := New().Verify(req); err != nil {
				t.Fatal(err)
			}
			cs, err := New().Changes(req)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, cs...)
		}
		return out
	}

	rec := sim.Put("contacts", map[string]any{"name": "Ann"})
	clk = clk.Add(time.Second)
	sim.Put("contacts", map[string]any{"id": rec["id"], "name": "Anna"})
	req := &source.Request{Instance: inst, Settings: settings, Poller: p, Since: t0.Add(-time.Minute), Now: clk, ServerLocation: time.UTC, Client: srv.Client()}
	var polled []source.Record
	if err := New().Poll(context.Background(), req, func(r source.Record) error { polled = append(polled, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(polled) != 1 {
		t.Fatalf("%d records polled", len(polled))
	}
	id := gjson.GetBytes(polled[0].Raw, p.IDField).String()
	date, err := p.Updated.Parse(gjson.GetBytes(polled[0].Raw, p.Updated.Field).String())
	if err != nil {
		t.Fatal(err)
	}
	cs := pushedChanges()
	if len(cs) != 2 || cs[0].Type != "CREATED" || cs[1].Type != "UPDATED" {
		t.Fatalf("changes %+v", cs)
	}
	if last := cs[1]; last.ObjectID != id || !last.Date.Equal(date) || last.Resource != "contacts" {
		t.Fatalf("pushed %s at %s; polled %s at %s", last.ObjectID, last.Date, id, date)
	}

	sim.Delete("contacts", id)
	cs = pushedChanges()
	if del := cs[len(cs)-1]; del.Type != "DELETED" || del.ObjectID != id || !del.Date.After(date) {
		t.Fatalf("deletion %+v after the update at %s", del, date)
	}
}

func TestSimulatorPushRetries(t *testing.T) {
	rcv := newPushReceiver(t, func(n int) int {
		return []int{http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusNoContent}[min(n, 2)]
	})
	sim := NewSimulator(SimOptions{WebhookURL: rcv.srv.URL, WebhookSecret: "k", WebhookRetry: []time.Duration{2 * time.Millisecond, 2 * time.Millisecond}})
	sim.Put("deals", map[string]any{"amount": 5})
	flush(t, sim)
	pushes := rcv.received()
	if len(pushes) != 3 || string(pushes[0].body) != string(pushes[2].body) {
		t.Fatalf("%d pushes, want the same push 3 times", len(pushes))
	}
	if sent, done, dropped := sim.Webhooks(); sent != 1 || done != 1 || dropped != 0 {
		t.Fatalf("Webhooks() = %d, %d, %d", sent, done, dropped)
	}

	// Out of retries: given up.
	rcv = newPushReceiver(t, func(int) int { return http.StatusBadGateway })
	sim = NewSimulator(SimOptions{WebhookURL: rcv.srv.URL, WebhookSecret: "k", WebhookRetry: []time.Duration{time.Millisecond}})
	sim.Put("deals", nil)
	flush(t, sim)
	if n := len(rcv.received()); n != 2 {
		t.Fatalf("%d pushes, want 2", n)
	}
	if sent, done, dropped := sim.Webhooks(); sent != 1 || done != 0 || dropped != 1 {
		t.Fatalf("Webhooks() = %d, %d, %d", sent, done, dropped)
	}
}

func TestSimulatorPushDropRate(t *testing.T) {
	rcv := newPushReceiver(t, nil)
	sim := NewSimulator(SimOptions{WebhookURL: rcv.srv.URL, WebhookSecret: "k", WebhookDropRate: 0.3, WebhookSeed: 11})
	const writes = 1000
	for range writes {
		sim.Put("contacts", nil)
	}
	flush(t, sim)
	sent, done, dropped := sim.Webhooks()
	if dropped < 250 || dropped > 350 {
		t.Fatalf("dropped %d of %d, want 25–35%%", dropped, writes)
	}
	if sent != done || done+dropped != writes || len(rcv.received()) != done {
		t.Fatalf("sent %d, delivered %d, dropped %d, received %d", sent, done, dropped, len(rcv.received()))
	}
}

func TestSimulatorFlushWebhooks(t *testing.T) {
	rcv := newPushReceiver(t, nil)
	rcv.gate = make(chan struct{})
	sim := NewSimulator(SimOptions{WebhookSecret: "k"})
	sim.Put("contacts", nil) // no URL yet: no push
	sim.SetWebhookURL(rcv.srv.URL)
	sim.Put("contacts", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := sim.FlushWebhooks(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("flush while the receiver holds the push: %v", err)
	}
	close(rcv.gate)
	flush(t, sim)
	if sent, done, _ := sim.Webhooks(); sent != 1 || done != 1 || len(rcv.received()) != 1 {
		t.Fatalf("sent %d, delivered %d, received %d", sent, done, len(rcv.received()))
	}
}

// TestSimulatorPushHTTPWrites pushes writes made through the Simulator's
// HTTP API too.
func TestSimulatorPushHTTPWrites(t *testing.T) {
	rcv := newPushReceiver(t, nil)
	sim, srv := newSim(t, SimOptions{WebhookURL: rcv.srv.URL, WebhookSecret: "k"})
	resp, err := http.Post(srv.URL+"/contacts", "application/json", strings.NewReader(`{"id":"c_9","name":"Bo"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/contacts/c_9", nil)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	flush(t, sim)
	var types []string
	for _, p := range rcv.received() {
		var v struct{ Type, Resource string }
		if err := json.Unmarshal(p.body, &v); err != nil {
			t.Fatal(err)
		}
		types = append(types, v.Resource+"/"+v.Type+"/"+gjson.GetBytes(p.body, "record.id").String())
	}
	if got := strings.Join(types, " "); got != "contacts/created/c_9 contacts/deleted/c_9" {
		t.Fatalf("pushes %s", got)
	}
}

func TestSpecWebhooks(t *testing.T) {
	if !Spec.Webhooks {
		t.Fatal("the rest connector does not say it takes webhooks")
	}
	base := map[string]string{"base.url": "https://vendor.example", connectors.KeyVendorType: "webhook"}
	cases := []struct {
		name string
		cfg  map[string]string
		want string // "" valid, else part of the error
	}{
		{"webhook with a secret", map[string]string{connectors.KeyWebhookSecret: "k"}, ""},
		{"webhook without a secret", nil, connectors.KeyWebhookSecret},
		{"bad encoding", map[string]string{connectors.KeyWebhookSecret: "k", KeyWebhookSignatureEncoding: "base32"}, KeyWebhookSignatureEncoding},
		{"bad header name", map[string]string{connectors.KeyWebhookSecret: "k", KeyWebhookSignatureHeader: "X Sig"}, KeyWebhookSignatureHeader},
		{"bad timestamp header", map[string]string{connectors.KeyWebhookSecret: "k", KeyWebhookTimestampHeader: "X:T"}, KeyWebhookTimestampHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := map[string]string{}
			for k, v := range base {
				cfg[k] = v
			}
			for k, v := range c.cfg {
				cfg[k] = v
			}
			_, err := instances.Compile(Spec, cfg)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one naming %s", err, c.want)
			}
		})
	}
}
