package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// hookInstance is a HubSpot instance holding the secrets Verify reads.
func hookInstance(secrets map[string]string) *instances.Instance {
	return &instances.Instance{ID: 12, ConnectorKey: Key, Config: map[string]string{}, Secrets: secrets}
}

// signedRequest is a webhook request signed as HubSpot signs it.
func signedRequest(t *testing.T, secret, rawURL string, body string, at time.Time) *source.WebhookRequest {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	h := http.Header{}
	h.Set(HeaderRequestTimestamp, ts)
	h.Set(HeaderSignatureV3, SignV3(secret, "POST", DecodeSignedURI(rawURL), []byte(body), ts))
	return &source.WebhookRequest{
		Instance: hookInstance(map[string]string{KeyClientSecret: secret}),
		Method:   "POST", URL: u, Header: h, Body: []byte(body), Now: at.Add(time.Second),
	}
}

// TestSignV3Vector checks the signature against one computed outside Go
// (openssl dgst -sha256 -hmac … | base64), with a query whose %2C and %3A
// HubSpot's docs say to decode before signing.
func TestSignV3Vector(t *testing.T) {
	const (
		secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
		raw    = "https://pollwire.example/elements/api-v2/events/hubspot/MTI=?a=1%2C2&b=c%3Ad"
		body   = `[{"eventId":1,"subscriptionId":12345,"portalId":62515,"appId":54321,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM"}]`
		ts     = "1564113600500"
		want   = "lcRzejpKqdE1uzUKaFUv7SHcnEFG3zoNwTlV+hP3Za0="
	)
	decoded := DecodeSignedURI(raw)
	if decoded != "https://pollwire.example/elements/api-v2/events/hubspot/MTI=?a=1,2&b=c:d" {
		t.Fatalf("decoded URI %q", decoded)
	}
	if got := SignV3(secret, "POST", decoded, []byte(body), ts); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	u, _ := url.Parse(raw)
	h := http.Header{}
	h.Set(HeaderSignatureV3, want)
	h.Set(HeaderRequestTimestamp, ts)
	req := &source.WebhookRequest{
		Instance: hookInstance(map[string]string{KeyClientSecret: secret}),
		Method:   "POST", URL: u, Header: h, Body: []byte(body), Now: time.UnixMilli(1564113600500 + 2000),
	}
	if err := New().Verify(req); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestDecodeSignedURI(t *testing.T) {
	for in, want := range map[string]string{
		"https://h/p?x=%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B": "https://h/p?x=:/?@!$'()*,;",
		"https://h/p?x=%3a%2c":                               "https://h/p?x=:,", // lower-case hex too
		"https://h/p?x=%20%3D%26%25":                         "https://h/p?x=%20%3D%26%25",
		"https://h/p?x=%":                                    "https://h/p?x=%",
		"https://h/p?x=%3":                                   "https://h/p?x=%3",
		"https://h/a%2Fb":                                    "https://h/a/b",
	} {
		if got := DecodeSignedURI(in); got != want {
			t.Errorf("DecodeSignedURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVerify(t *testing.T) {
	const (
		secret = "client-secret-1"
		target = "https://pollwire.example/elements/api-v2/events/hubspot/MTI="
		body   = `[{"eventId":7,"occurredAt":1772366400000,"subscriptionType":"contact.creation","objectId":1001}]`
	)
	at := t0
	cases := []struct {
		name   string
		change func(r *source.WebhookRequest)
		want   string // "" accepts; else a fragment of the refusal
	}{
		{"valid", func(*source.WebhookRequest) {}, ""},
		{"valid 5 min old", func(r *source.WebhookRequest) { r.Now = at.Add(source.MaxWebhookAge) }, ""},
		{"webhook key wins over the client secret", func(r *source.WebhookRequest) {
			r.Instance.Secrets[connectors.KeyWebhookSecret] = "app-webhook-key"
			r.Header.Set(HeaderSignatureV3, SignV3("app-webhook-key", "POST", target, []byte(body), r.Header.Get(HeaderRequestTimestamp)))
		}, ""},
		{"signed over the URI as received", func(r *source.WebhookRequest) {
			raw := target + "?x=a%2Cb"
			r.URL, _ = url.Parse(raw)
			r.Header.Set(HeaderSignatureV3, SignV3(secret, "POST", raw, []byte(body), r.Header.Get(HeaderRequestTimestamp)))
		}, ""},
		{"wrong signature", func(r *source.WebhookRequest) {
			r.Header.Set(HeaderSignatureV3, SignV3("another-secret", "POST", target, []byte(body), r.Header.Get(HeaderRequestTimestamp)))
		}, "does not match"},
		{"client secret when a webhook key is set", func(r *source.WebhookRequest) {
			r.Instance.Secrets[connectors.KeyWebhookSecret] = "app-webhook-key"
		}, "does not match"},
		{"tampered body", func(r *source.WebhookRequest) {
			r.Body = []byte(strings.Replace(body, "1001", "1002", 1))
		}, "does not match"},
		{"another instance's URL", func(r *source.WebhookRequest) {
			r.URL, _ = url.Parse("https://pollwire.example/elements/api-v2/events/hubspot/MTM=")
		}, "does not match"},
		{"another method", func(r *source.WebhookRequest) { r.Method = "PUT" }, "does not match"},
		{"stale timestamp (6 min old)", func(r *source.WebhookRequest) { r.Now = at.Add(6 * time.Minute) }, "old"},
		{"timestamp 6 min ahead", func(r *source.WebhookRequest) { r.Now = at.Add(-6 * time.Minute) }, "ahead"},
		{"missing signature header", func(r *source.WebhookRequest) { r.Header.Del(HeaderSignatureV3) }, "X-HubSpot-Signature-v3 header is missing"},
		{"missing timestamp header", func(r *source.WebhookRequest) { r.Header.Del(HeaderRequestTimestamp) }, "X-HubSpot-Request-Timestamp header is missing"},
		{"timestamp not epoch ms", func(r *source.WebhookRequest) { r.Header.Set(HeaderRequestTimestamp, "2026-03-01T12:00:00Z") }, "epoch milliseconds"},
		{"signature not base64", func(r *source.WebhookRequest) { r.Header.Set(HeaderSignatureV3, "not*base64!") }, "not base64"},
		{"signature too short", func(r *source.WebhookRequest) { r.Header.Set(HeaderSignatureV3, "c2hvcnQ=") }, "not an HMAC-SHA256"},
		{"no secret configured", func(r *source.WebhookRequest) { r.Instance.Secrets = map[string]string{} }, "neither"},
		{"public URL unknown", func(r *source.WebhookRequest) { r.URL = &url.URL{Path: "/elements/api-v2/events/hubspot/MTI="} }, "public URL"},
	}
	src := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := signedRequest(t, secret, target, body, at)
			r.Now = at
			c.change(r)
			err := src.Verify(r)
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

func TestChanges(t *testing.T) {
	const ms = 1772366400123
	at := time.UnixMilli(ms).UTC()
	later := at.Add(time.Second)
	type want struct {
		res, typ, id string
		date         time.Time
		events       int // events in Raw
	}
	ev := func(fields string) string {
		return `{"eventId":1,"portalId":62515,"occurredAt":1772366400123,` + fields + `}`
	}
	cases := []struct {
		name string
		body string
		want []want
		err  string
	}{
		{"creation and its propertyChanges are one change", `[` +
			ev(`"subscriptionType":"contact.creation","objectId":123`) + `,` +
			ev(`"subscriptionType":"contact.propertyChange","objectId":123,"propertyName":"email","propertyValue":"a@b.c"`) + `,` +
			ev(`"subscriptionType":"contact.propertyChange","objectId":123,"propertyName":"firstname","propertyValue":"Ann"`) + `]`,
			[]want{{"contacts", "CREATED", "123", at, 3}}, ""},
		{"company property change", `[` + ev(`"subscriptionType":"company.propertyChange","objectId":5,"propertyName":"name","propertyValue":"X"`) + `]`,
			[]want{{"accounts", "UPDATED", "5", at, 1}}, ""},
		{"deal deletion", `[` + ev(`"subscriptionType":"deal.deletion","objectId":9`) + `]`,
			[]want{{"opportunities", "DELETED", "9", at, 1}}, ""},
		{"privacy deletion", `[` + ev(`"subscriptionType":"contact.privacyDeletion","objectId":9`) + `]`,
			[]want{{"contacts", "DELETED", "9", at, 1}}, ""},
		{"restore", `[` + ev(`"subscriptionType":"contact.restore","objectId":9`) + `]`,
			[]want{{"contacts", "UPDATED", "9", at, 1}}, ""},
		{"generic object events by objectTypeId", `[` +
			ev(`"subscriptionType":"object.creation","objectTypeId":"0-48","objectId":31`) + `,` +
			ev(`"subscriptionType":"object.propertyChange","objectTypeId":"0-46","objectId":32,"propertyName":"hs_note_body","propertyValue":"hi"`) + `,` +
			ev(`"subscriptionType":"object.deletion","objectTypeId":"0-1","objectId":33`) + `,` +
			ev(`"subscriptionType":"object.creation","objectTypeId":"0-5","objectId":34`) + `]`,
			[]want{{"activities", "CREATED", "31", at, 1}, {"activities", "UPDATED", "32", at, 1}, {"contacts", "DELETED", "33", at, 1}}, ""},
		{"unpolled types are skipped", `[` +
			ev(`"subscriptionType":"contact.associationChange","fromObjectId":1,"toObjectId":2`) + `,` +
			ev(`"subscriptionType":"ticket.creation","objectId":3`) + `,` +
			ev(`"subscriptionType":"conversation.newMessage","objectId":4`) + `,` +
			ev(`"subscriptionType":"contact.unknownAction","objectId":5`) + `]`,
			nil, ""},
		{"vendor order, one change per object and time", `[` +
			ev(`"subscriptionType":"contact.propertyChange","objectId":2,"propertyName":"a","propertyValue":"1"`) + `,` +
			ev(`"subscriptionType":"contact.creation","objectId":1`) + `,` +
			ev(`"subscriptionType":"contact.propertyChange","objectId":2,"propertyName":"b","propertyValue":"2"`) + `,` +
			`{"occurredAt":1772366401123,"subscriptionType":"contact.propertyChange","objectId":2,"propertyName":"a","propertyValue":"3"}` + `,` +
			ev(`"subscriptionType":"deal.creation","objectId":2`) + `]`,
			[]want{{"contacts", "UPDATED", "2", at, 2}, {"contacts", "CREATED", "1", at, 1}, {"contacts", "UPDATED", "2", later, 1}, {"opportunities", "CREATED", "2", at, 1}}, ""},
		{"creation and deletion in one instant end deleted", `[` +
			ev(`"subscriptionType":"contact.creation","objectId":1`) + `,` + ev(`"subscriptionType":"contact.deletion","objectId":1`) + `]`,
			[]want{{"contacts", "DELETED", "1", at, 2}}, ""},
		{"merge into the primary", `[` + ev(`"subscriptionType":"contact.merge","objectId":10,"primaryObjectId":10,"mergedObjectIds":[11,12],"newObjectId":10`) + `]`,
			[]want{{"contacts", "UPDATED", "10", at, 1}, {"contacts", "DELETED", "11", at, 1}, {"contacts", "DELETED", "12", at, 1}}, ""},
		{"merge into a new record", `[` + ev(`"subscriptionType":"company.merge","objectId":10,"primaryObjectId":10,"mergedObjectIds":[11],"newObjectId":20`) + `]`,
			[]want{{"accounts", "CREATED", "20", at, 1}, {"accounts", "DELETED", "10", at, 1}, {"accounts", "DELETED", "11", at, 1}}, ""},
		{"string and big object ids", `[` +
			ev(`"subscriptionType":"contact.creation","objectId":"77"`) + `,` +
			ev(`"subscriptionType":"contact.creation","objectId":9007199254740993`) + `]`,
			[]want{{"contacts", "CREATED", "77", at, 1}, {"contacts", "CREATED", "9007199254740993", at, 1}}, ""},
		{"occurredAt as a string", `[{"occurredAt":"1772366400123","subscriptionType":"contact.creation","objectId":1}]`,
			[]want{{"contacts", "CREATED", "1", at, 1}}, ""},
		{"one event without the array", ev(`"subscriptionType":"contact.creation","objectId":1`),
			[]want{{"contacts", "CREATED", "1", at, 1}}, ""},
		{"empty array", `[]`, nil, ""},
		{"byte order mark", "\xEF\xBB\xBF[]", nil, ""},
		{"not JSON", `[{"objectId":`, nil, "not JSON"},
		{"not an array", `"contact.creation"`, nil, "not an array"},
		{"event not an object", `[1]`, nil, "not an object"},
		{"no subscriptionType", `[{"objectId":1,"occurredAt":1}]`, nil, "no subscriptionType"},
		{"no occurredAt", `[{"subscriptionType":"contact.creation","objectId":1}]`, nil, "no occurredAt"},
		{"no objectId", `[` + ev(`"subscriptionType":"contact.creation"`) + `]`, nil, "no objectId"},
		{"fractional objectId", `[` + ev(`"subscriptionType":"contact.creation","objectId":1.5`) + `]`, nil, "no objectId"},
		{"merge without ids", `[` + ev(`"subscriptionType":"contact.merge"`) + `]`, nil, "no newObjectId"},
	}
	src := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := src.Changes(&source.WebhookRequest{Body: []byte(c.body)})
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
				if g.Resource != w.res || g.Type != w.typ || g.ObjectID != w.id || !g.Date.Equal(w.date) {
					t.Errorf("change %d: %s %s %s %s, want %s %s %s %s", i, g.Resource, g.Type, g.ObjectID, g.Date.Format(time.RFC3339Nano), w.res, w.typ, w.id, w.date.Format(time.RFC3339Nano))
				}
				var raw []json.RawMessage
				if err := json.Unmarshal(g.Raw, &raw); err != nil || len(raw) != w.events {
					t.Errorf("change %d: raw %s: %d events (%v), want %d", i, g.Raw, len(raw), err, w.events)
				}
			}
		})
	}
}

// hookRequest is one webhook request a receiver got.
type hookRequest struct {
	url    *url.URL // as seen from outside
	header http.Header
	body   []byte
	status int
}

// hookReceiver is a webhook endpoint on loopback: answer says the status of
// the n-th request (0-based); gate, when set, holds the first request back
// until it is closed.
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	path   string
	answer func(n int, r *http.Request) int
	gate   chan struct{}

	mu   sync.Mutex
	reqs []hookRequest
}

func newHookReceiver(t *testing.T, answer func(n int, r *http.Request) int) *hookReceiver {
	h := &hookReceiver{t: t, path: "/elements/api-v2/events/hubspot/MTI=", answer: answer}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		n := len(h.reqs)
		h.reqs = append(h.reqs, hookRequest{})
		h.mu.Unlock()
		if n == 0 && h.gate != nil {
			<-h.gate
		}
		status := http.StatusNoContent
		if h.answer != nil {
			status = h.answer(n, r)
		}
		u, _ := url.Parse(h.srv.URL + r.RequestURI)
		h.mu.Lock()
		h.reqs[n] = hookRequest{url: u, header: r.Header.Clone(), body: body, status: status}
		h.mu.Unlock()
		if status > 0 {
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) url() string { return h.srv.URL + h.path }

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

// verify checks every request's signature as pollwire's intake would, with
// secret as the instance's client secret, and returns their events.
func (h *hookReceiver) verify(secret string, now time.Time) [][]simEvent {
	h.t.Helper()
	src := New()
	var out [][]simEvent
	for i, r := range h.requests() {
		req := &source.WebhookRequest{
			Instance: hookInstance(map[string]string{KeyClientSecret: secret}),
			Method:   "POST", URL: r.url, Header: r.header, Body: r.body, Now: now,
		}
		if err := src.Verify(req); err != nil {
			h.t.Fatalf("request %d does not verify: %v", i, err)
		}
		var evs []simEvent
		if err := json.Unmarshal(r.body, &evs); err != nil {
			h.t.Fatalf("request %d: %v: %s", i, err, r.body)
		}
		out = append(out, evs)
	}
	return out
}

func flush(t *testing.T, sim *Simulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sim.FlushWebhooks(ctx); err != nil {
		t.Fatalf("FlushWebhooks: %v", err)
	}
}

// TestWebhookDateMatchesPoll checks the dedupe key: for the same write, the
// webhook's (ObjectID, Date) is the poller's (id, updatedAt) — archivedAt
// for a deletion — so hybrid mode delivers each change once.
func TestWebhookDateMatchesPoll(t *testing.T) {
	rcv := newHookReceiver(t, nil)
	e := newEnv(t, SimOptions{PrivateAppToken: "tok", ClientSecret: "app-secret"})
	e.sim.SetWebhookURL(rcv.url())
	inst, s := e.instance(1, privateApp("tok"), map[string]any{"contacts": hubPoller("contacts", "")})
	p, _ := s.Poller("contacts")
	since := e.clk.Now().Add(-time.Minute)

	// webhook returns the changes of every request received so far.
	webhook := func() []source.Change {
		t.Helper()
		flush(t, e.sim)
		rcv.verify("app-secret", e.clk.Now())
		var out []source.Change
		for _, r := range rcv.requests() {
			cs, err := e.src.Changes(&source.WebhookRequest{Body: r.body})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, cs...)
		}
		return out
	}
	// polled reads the poll's records as the engine does: id at the
	// poller's idField, date at its updatedDateField, DeletedAt for a
	// deletion.
	polled := func() map[string]time.Time {
		t.Helper()
		recs, err := e.poll(e.request(inst, s, "contacts", since))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, r := range recs {
			if r.Deleted {
				out["-"+r.ID] = r.DeletedAt
				continue
			}
			d, err := p.Updated.Parse(gjson.GetBytes(r.Raw, p.Updated.Field).String())
			if err != nil {
				t.Fatal(err)
			}
			out[gjson.GetBytes(r.Raw, p.IDField).String()] = d
		}
		return out
	}
	check := func(c source.Change, key string, typ string) {
		t.Helper()
		got := polled()
		d, ok := got[key]
		if !ok {
			t.Fatalf("the poll did not read %s: %v", key, got)
		}
		if c.Type != typ || !c.Date.Equal(d) {
			t.Fatalf("webhook %s %s at %s; the poller reads %s at %s", c.Type, c.ObjectID, c.Date.Format(time.RFC3339Nano), key, d.Format(time.RFC3339Nano))
		}
	}

	e.clk.Advance(123 * time.Millisecond)
	o := e.sim.Create("contacts", map[string]string{"email": "ann@example.com", "firstname": "Ann"})
	cs := webhook()
	if len(cs) != 1 || cs[0].ObjectID != o.ID || cs[0].Resource != "contacts" {
		t.Fatalf("create: changes %+v", cs)
	}
	check(cs[0], o.ID, "CREATED")

	e.clk.Advance(2*time.Second + 7*time.Millisecond)
	e.sim.Update("contacts", o.ID, map[string]string{"lastname": "Lee"})
	cs = webhook()
	check(cs[len(cs)-1], o.ID, "UPDATED")

	// Zero milliseconds: HubSpot then writes "…:05Z", and the dates must
	// still agree.
	e.clk.Set(e.clk.Now().Truncate(time.Second).Add(time.Second))
	e.sim.Archive("contacts", o.ID)
	cs = webhook()
	check(cs[len(cs)-1], "-"+o.ID, "DELETED")
}

// simWith returns a simulator pushing to rcv, on the real clock.
func simWith(rcv *hookReceiver, opts SimOptions) *Simulator {
	opts.ClientSecret = "app-secret"
	opts.WebhookURL = rcv.url()
	return NewSimulator(opts)
}

func TestSimulatorWebhookEvents(t *testing.T) {
	rcv := newHookReceiver(t, nil)
	sim := simWith(rcv, SimOptions{PortalID: 99})
	c := sim.Create("contacts", map[string]string{"firstname": "Ann", "email": "ann@example.com", "phone": ""})
	call := sim.Create("calls", map[string]string{"hs_call_title": "Intro"})
	u, _ := sim.Update("contacts", c.ID, map[string]string{"firstname": ""})
	a, _ := sim.Archive("contacts", c.ID)
	flush(t, sim)
	var evs []simEvent
	for _, b := range rcv.verify("app-secret", time.Now()) {
		evs = append(evs, b...)
	}
	id, _ := strconv.ParseInt(c.ID, 10, 64)
	callID, _ := strconv.ParseInt(call.ID, 10, 64)
	type row struct {
		typ, typeID string
		obj         int64
		at          time.Time
		prop, value string
	}
	want := []row{
		{"contact.creation", "", id, c.UpdatedAt, "", ""},
		{"contact.propertyChange", "", id, c.UpdatedAt, "email", "ann@example.com"},
		{"contact.propertyChange", "", id, c.UpdatedAt, "firstname", "Ann"},
		{"object.creation", "0-48", callID, call.UpdatedAt, "", ""},
		{"object.propertyChange", "0-48", callID, call.UpdatedAt, "hs_call_title", "Intro"},
		{"contact.propertyChange", "", id, u.UpdatedAt, "firstname", ""},
		{"contact.deletion", "", id, a.ArchivedAt, "", ""},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	seen := map[int64]bool{}
	for i, w := range want {
		g := evs[i]
		val := ""
		if g.PropertyValue != nil {
			val = *g.PropertyValue
		}
		if g.SubscriptionType != w.typ || g.ObjectTypeID != w.typeID || g.ObjectID != w.obj || g.OccurredAt != w.at.UnixMilli() ||
			g.PropertyName != w.prop || val != w.value || (w.prop != "" && g.PropertyValue == nil) {
			t.Errorf("event %d: %+v, want %+v", i, g, w)
		}
		if g.PortalID != 99 || g.AppID != DefaultAppID || g.AttemptNumber != 0 || seen[g.EventID] {
			t.Errorf("event %d: portal %d app %d attempt %d id %d", i, g.PortalID, g.AppID, g.AttemptNumber, g.EventID)
		}
		seen[g.EventID] = true
	}
	if sent, done, dropped := sim.Webhooks(); sent != 7 || done != 7 || dropped != 0 {
		t.Fatalf("Webhooks() = %d, %d, %d", sent, done, dropped)
	}
}

func TestSimulatorWebhookProperties(t *testing.T) {
	rcv := newHookReceiver(t, nil)
	sim := simWith(rcv, SimOptions{WebhookProperties: []string{"email"}})
	c := sim.Create("contacts", map[string]string{"firstname": "Ann", "email": "a@example.com"})
	sim.Update("contacts", c.ID, map[string]string{"firstname": "Anna"}) // not subscribed: no event
	sim.Update("contacts", c.ID, map[string]string{"email": "b@example.com"})
	flush(t, sim)
	var types []string
	for _, b := range rcv.verify("app-secret", time.Now()) {
		for _, ev := range b {
			types = append(types, ev.SubscriptionType+":"+ev.PropertyName)
		}
	}
	if got := strings.Join(types, " "); got != "contact.creation: contact.propertyChange:email contact.propertyChange:email" {
		t.Fatalf("events %s", got)
	}
}

func TestSimulatorWebhookRetries(t *testing.T) {
	rcv := newHookReceiver(t, func(n int, _ *http.Request) int {
		return []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusOK}[min(n, 2)]
	})
	sim := simWith(rcv, SimOptions{WebhookRetry: []time.Duration{2 * time.Millisecond, 2 * time.Millisecond}})
	sim.Create("deals", map[string]string{"dealname": "Big"})
	flush(t, sim)
	batches := rcv.verify("app-secret", time.Now())
	if len(batches) != 3 {
		t.Fatalf("%d requests, want 3 (two failures, then 200)", len(batches))
	}
	for i, b := range batches {
		if len(b) != 2 || b[0].AttemptNumber != i || b[1].AttemptNumber != i || b[0].EventID != batches[0][0].EventID {
			t.Fatalf("attempt %d: %+v", i, b)
		}
	}
	if sent, done, dropped := sim.Webhooks(); sent != 2 || done != 2 || dropped != 0 {
		t.Fatalf("Webhooks() = %d, %d, %d", sent, done, dropped)
	}
}

func TestSimulatorWebhookGivesUp(t *testing.T) {
	for _, c := range []struct {
		name     string
		status   int
		requests int
	}{
		{"5xx until the retries run out", http.StatusBadGateway, 3},
		{"401 is not retried", http.StatusUnauthorized, 1},
		{"404 is not retried", http.StatusNotFound, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			rcv := newHookReceiver(t, func(int, *http.Request) int { return c.status })
			sim := simWith(rcv, SimOptions{WebhookRetry: []time.Duration{time.Millisecond, time.Millisecond}})
			sim.Create("contacts", nil)
			flush(t, sim)
			if n := len(rcv.requests()); n != c.requests {
				t.Fatalf("%d requests, want %d", n, c.requests)
			}
			if sent, done, dropped := sim.Webhooks(); sent != 1 || done != 0 || dropped != 1 {
				t.Fatalf("Webhooks() = %d, %d, %d", sent, done, dropped)
			}
		})
	}
}

func TestSimulatorWebhookTimeout(t *testing.T) {
	rcv := newHookReceiver(t, func(n int, r *http.Request) int {
		if n == 0 {
			<-r.Context().Done() // no answer: the sender's timeout ends it
			return 0
		}
		return http.StatusOK
	})
	sim := simWith(rcv, SimOptions{
		WebhookRetry:  []time.Duration{time.Millisecond},
		WebhookClient: &http.Client{Timeout: 50 * time.Millisecond},
	})
	sim.Create("contacts", nil)
	flush(t, sim)
	reqs := rcv.requests()
	if len(reqs) != 2 || reqs[1].status != http.StatusOK {
		t.Fatalf("%d requests", len(reqs))
	}
	if _, done, dropped := sim.Webhooks(); done != 1 || dropped != 0 {
		t.Fatalf("delivered %d, dropped %d", done, dropped)
	}
}

func TestSimulatorWebhookBatching(t *testing.T) {
	for _, c := range []struct {
		batch, writes, max int
	}{
		{10, 95, 10},
		{0, 250, MaxWebhookEvents},   // default
		{500, 250, MaxWebhookEvents}, // HubSpot's cap
	} {
		t.Run(strconv.Itoa(c.batch), func(t *testing.T) {
			rcv := newHookReceiver(t, nil)
			rcv.gate = make(chan struct{})
			sim := simWith(rcv, SimOptions{WebhookBatch: c.batch})
			for range c.writes {
				sim.Create("companies", nil)
			}
			close(rcv.gate) // the writes made while the first request was out gather in batches
			flush(t, sim)
			ids := map[int64]bool{}
			largest := 0
			for i, b := range rcv.verify("app-secret", time.Now()) {
				if len(b) > c.max {
					t.Fatalf("request %d has %d events, more than %d", i, len(b), c.max)
				}
				largest = max(largest, len(b))
				for _, ev := range b {
					ids[ev.EventID] = true
				}
			}
			if len(ids) != c.writes || largest != c.max {
				t.Fatalf("%d distinct events (want %d), largest request %d (want %d)", len(ids), c.writes, largest, c.max)
			}
		})
	}
}

func TestSimulatorWebhookDropRate(t *testing.T) {
	rcv := newHookReceiver(t, nil)
	sim := simWith(rcv, SimOptions{WebhookDropRate: 0.3, WebhookSeed: 7})
	const writes = 1000
	for range writes {
		sim.Create("contacts", nil)
	}
	flush(t, sim)
	received := 0
	for _, b := range rcv.verify("app-secret", time.Now()) {
		received += len(b)
	}
	sent, done, dropped := sim.Webhooks()
	if dropped < 250 || dropped > 350 {
		t.Fatalf("dropped %d of %d, want 25–35%%", dropped, writes)
	}
	if sent != done || done+dropped != writes || received != done {
		t.Fatalf("sent %d, delivered %d, dropped %d, received %d", sent, done, dropped, received)
	}
}

func TestFlushWebhooks(t *testing.T) {
	rcv := newHookReceiver(t, nil)
	rcv.gate = make(chan struct{})
	sim := simWith(rcv, SimOptions{})
	if err := sim.FlushWebhooks(context.Background()); err != nil {
		t.Fatalf("nothing pending: %v", err)
	}
	sim.Create("contacts", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := sim.FlushWebhooks(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("flush while the receiver holds the request: %v", err)
	}
	if _, done, _ := sim.Webhooks(); done != 0 {
		t.Fatalf("delivered %d before the receiver answered", done)
	}
	close(rcv.gate)
	flush(t, sim)
	if _, done, _ := sim.Webhooks(); done != 1 {
		t.Fatalf("delivered %d after the flush", done)
	}
}

func TestSimulatorWebhooksOff(t *testing.T) {
	rcv := newHookReceiver(t, nil)
	sim := NewSimulator(SimOptions{})
	sim.Create("contacts", nil) // no URL yet: no webhook
	sim.SetWebhookURL(rcv.url())
	sim.Create("contacts", nil)
	flush(t, sim)
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// TestWebhookThroughHTTP writes through the simulator's API, as the demo
// does, and checks the pushes read back as the writes.
func TestWebhookThroughHTTP(t *testing.T) {
	rcv := newHookReceiver(t, nil)
	sim := simWith(rcv, SimOptions{PrivateAppToken: "tok"})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/crm/v3/objects/deals", strings.NewReader(`{"properties":{"dealname":"X"}}`))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		ID        string `json:"id"`
		UpdatedAt string `json:"updatedAt"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&o)
	resp.Body.Close()
	flush(t, sim)
	rcv.verify("app-secret", time.Now())
	cs, err := New().Changes(&source.WebhookRequest{Body: rcv.requests()[0].body})
	if err != nil {
		t.Fatal(err)
	}
	updated, _ := time.Parse(time.RFC3339Nano, o.UpdatedAt)
	if len(cs) != 1 || cs[0].Resource != "opportunities" || cs[0].Type != "CREATED" || cs[0].ObjectID != o.ID || !cs[0].Date.Equal(updated) {
		t.Fatalf("changes %+v for deal %s updated %s", cs, o.ID, o.UpdatedAt)
	}
}

func TestSpecWebhookSecret(t *testing.T) {
	cases := []struct {
		name string
		cfg  map[string]string
		ok   bool
	}{
		{"private app with a webhook key", map[string]string{KeyAccessToken: "tok", connectors.KeyWebhookSecret: "k"}, true},
		{"private app without one", map[string]string{KeyAccessToken: "tok"}, false},
		{"OAuth app: its client secret", oauth("id", "secret", "refresh"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := map[string]string{connectors.KeyVendorType: "webhook"}
			for k, v := range c.cfg {
				cfg[k] = v
			}
			_, err := instances.Compile(Spec, cfg)
			if c.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), connectors.KeyWebhookSecret)) {
				t.Fatalf("Compile: %v", err)
			}
		})
	}
}
