package closeio

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
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

const testSigKey = "058bfb6a3d8cfdc4da7c3be5901b16ae11da982b46a25fb2cd7016e97a140a1c"

// sign is Close's signature: hex(HMAC-SHA256(hex-decoded key, stamp+body)).
func sign(t testing.TB, key, stamp string, body []byte) string {
	t.Helper()
	k, err := hex.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(stamp + string(body)))
	return hex.EncodeToString(mac.Sum(nil))
}

func webhookInstance(secrets map[string]string) *instances.Instance {
	s := map[string]string{"username": DefaultSimAPIKey, "password": ""}
	for k, v := range secrets {
		s[k] = v
	}
	return &instances.Instance{ConnectorKey: Key, Secrets: s}
}

// TestWebhookVerify: only a request signed with the instance's key, over
// this exact body, within five minutes of now passes; every refusal wraps
// source.ErrSignature and says why.
func TestWebhookVerify(t *testing.T) {
	body := []byte(`{"subscription_id":"whsub_1","event":{"id":"ev_1","object_type":"lead","action":"created"}}`)
	now := t0
	stamp := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	headers := func(hash, ts string) http.Header {
		h := http.Header{}
		if hash != "" {
			h.Set("close-sig-hash", hash)
		}
		if ts != "" {
			h.Set("close-sig-timestamp", ts)
		}
		return h
	}
	ts := stamp(0)
	good := sign(t, testSigKey, ts, body)
	otherKey := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name    string
		secret  string // the instance's signature key
		header  http.Header
		body    []byte
		ok      bool
		because string
	}{
		{name: "valid", header: headers(good, ts), ok: true},
		{name: "valid, upper-case hex", header: headers(strings.ToUpper(good), ts), ok: true},
		{name: "valid, 4 minutes old", header: headers(sign(t, testSigKey, stamp(-4*time.Minute), body), stamp(-4*time.Minute)), ok: true},
		{name: "wrong signature", header: headers(sign(t, otherKey, ts, body), ts), because: "does not match"},
		{name: "tampered body", header: headers(good, ts), body: []byte(strings.Replace(string(body), "created", "deleted", 1)), because: "does not match"},
		{name: "timestamp changed", header: headers(good, stamp(time.Second)), because: "does not match"},
		{name: "stale, 6 minutes old", header: headers(sign(t, testSigKey, stamp(-6*time.Minute), body), stamp(-6*time.Minute)), because: "ago"},
		{name: "future, 6 minutes ahead", header: headers(sign(t, testSigKey, stamp(6*time.Minute), body), stamp(6*time.Minute)), because: "in the future"},
		{name: "missing hash", header: headers("", ts), because: "Close-Sig-Hash header is missing"},
		{name: "missing timestamp", header: headers(good, ""), because: "Close-Sig-Timestamp header is missing"},
		{name: "missing both", header: http.Header{}, because: "missing"},
		{name: "hash not hex", header: headers("zz"+good[2:], ts), because: "not hex"},
		{name: "hash too short", header: headers(good[:32], ts), because: "16 bytes"},
		{name: "timestamp not seconds", header: headers(sign(t, testSigKey, ts+".5", body), ts+".5"), because: "not a Unix time"},
		{name: "timestamp signed", header: headers(sign(t, testSigKey, "+"+ts, body), "+"+ts), because: "not a Unix time"},
		{name: "hash repeated", header: http.Header{"Close-Sig-Hash": {good, good}, "Close-Sig-Timestamp": {ts}}, because: "repeated"},
		{name: "instance without key", secret: "-", header: headers(good, ts), because: "has no event.webhook.signature.key"},
		{name: "instance key not hex", secret: "not-hex", header: headers(good, ts), because: "is not hex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secrets := map[string]string{connectors.KeyWebhookSecret: testSigKey}
			switch tc.secret {
			case "-":
				secrets = nil
			case "":
			default:
				secrets[connectors.KeyWebhookSecret] = tc.secret
			}
			b := body
			if tc.body != nil {
				b = tc.body
			}
			err := New().Verify(&source.WebhookRequest{
				Instance: webhookInstance(secrets), Method: http.MethodPost, Header: tc.header, Body: b, Now: now,
			})
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, source.ErrSignature) {
				t.Fatalf("error %v does not wrap ErrSignature", err)
			}
			if !strings.Contains(err.Error(), tc.because) {
				t.Errorf("error %q does not say %q", err, tc.because)
			}
		})
	}
}

// payload is a Close webhook body around one event.
func payload(t testing.TB, ev map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"subscription_id": "whsub_1", "event": ev})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// closeEvent is an event as Close sends it; data nil leaves it out.
func closeEvent(objType, action, objID string, data map[string]any) map[string]any {
	ev := map[string]any{
		"id": "ev_" + objID, "object_type": objType, "action": action, "object_id": objID, "lead_id": "lead_1",
		"date_created": "2026-03-01T12:00:05.123456", "date_updated": "2026-03-01T12:00:05.123456",
		"changed_fields": []string{}, "meta": map[string]any{}, "organization_id": "orga_1",
	}
	if data != nil {
		ev["data"] = data
	}
	return ev
}

func record(id string) map[string]any {
	return map[string]any{"id": id, "date_created": "2026-03-01T11:00:00.000001+00:00", "date_updated": "2026-03-01T12:00:04.987654+00:00"}
}

// TestWebhookChanges maps Close's events to changes: the object types of
// each hub resource, created/updated/deleted, a lead merge as the source's
// deletion and the destination's update, and what is not a change.
func TestWebhookChanges(t *testing.T) {
	recDate := time.Date(2026, 3, 1, 12, 0, 4, 987654000, time.UTC)
	evDate := time.Date(2026, 3, 1, 12, 0, 5, 123456000, time.UTC)
	type want struct{ resource, typ, id string }
	cases := []struct {
		name string
		ev   map[string]any
		want []want
	}{
		{"lead created", closeEvent("lead", "created", "lead_1", record("lead_1")), []want{{"accounts", "CREATED", "lead_1"}}},
		{"lead updated", closeEvent("lead", "updated", "lead_1", record("lead_1")), []want{{"accounts", "UPDATED", "lead_1"}}},
		{"lead deleted", closeEvent("lead", "deleted", "lead_1", nil), []want{{"accounts", "DELETED", "lead_1"}}},
		{"contact created", closeEvent("contact", "created", "cont_1", record("cont_1")), []want{{"contacts", "CREATED", "cont_1"}}},
		{"contact updated", closeEvent("contact", "updated", "cont_1", record("cont_1")), []want{{"contacts", "UPDATED", "cont_1"}}},
		{"contact deleted", closeEvent("contact", "deleted", "cont_1", nil), []want{{"contacts", "DELETED", "cont_1"}}},
		{"opportunity created", closeEvent("opportunity", "created", "oppo_1", record("oppo_1")), []want{{"opportunities", "CREATED", "oppo_1"}}},
		{"opportunity updated", closeEvent("opportunity", "updated", "oppo_1", record("oppo_1")), []want{{"opportunities", "UPDATED", "oppo_1"}}},
		{"opportunity deleted", closeEvent("opportunity", "deleted", "oppo_1", nil), []want{{"opportunities", "DELETED", "oppo_1"}}},
		{"note created", closeEvent("activity.note", "created", "acti_1", record("acti_1")), []want{{"activities", "CREATED", "acti_1"}}},
		{"call updated", closeEvent("activity.call", "updated", "acti_2", record("acti_2")), []want{{"activities", "UPDATED", "acti_2"}}},
		{"email deleted", closeEvent("activity.email", "deleted", "acti_3", nil), []want{{"activities", "DELETED", "acti_3"}}},
		{"custom activity created", closeEvent("activity.custom_activity", "created", "acti_4", record("acti_4")), []want{{"activities", "CREATED", "acti_4"}}},
		{"status change activity", closeEvent("activity.lead_status_change", "created", "acti_5", record("acti_5")), []want{{"activities", "CREATED", "acti_5"}}},
		{"lead merged", func() map[string]any {
			ev := closeEvent("lead", "merged", "lead_dst", record("lead_dst"))
			ev["meta"] = map[string]any{"merge_source_lead_id": "lead_src", "merge_destination_lead_id": "lead_dst"}
			return ev
		}(), []want{{"accounts", "DELETED", "lead_src"}, {"accounts", "UPDATED", "lead_dst"}}},
		{"task created", closeEvent("task.lead", "created", "task_1", record("task_1")), nil},
		{"opportunity status change", closeEvent("status_change.opportunity", "created", "stch_1", record("stch_1")), nil},
		{"email sent", closeEvent("activity.email", "sent", "acti_6", record("acti_6")), nil},
		{"opportunity merged", closeEvent("opportunity", "merged", "oppo_1", record("oppo_1")), nil},
		{"bare activity type", closeEvent("activity.", "created", "acti_7", record("acti_7")), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := payload(t, tc.ev)
			got, err := New().Changes(&source.WebhookRequest{Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d changes %+v, want %v", len(got), got, tc.want)
			}
			evRaw := gjson.GetBytes(body, "event").Raw
			for i, w := range tc.want {
				c := got[i]
				if c.Resource != w.resource || c.Type != w.typ || c.ObjectID != w.id {
					t.Errorf("change %d: %s %s %s, want %v", i, c.Resource, c.Type, c.ObjectID, w)
				}
				wantDate := recDate // the record's date_updated, as the poller reads it
				if c.Type == "DELETED" {
					wantDate = evDate // the event's date_updated, as the deletion feed reads it
				}
				if !c.Date.Equal(wantDate) {
					t.Errorf("change %d: date %s, want %s", i, c.Date.Format(time.RFC3339Nano), wantDate.Format(time.RFC3339Nano))
				}
				if string(c.Raw) != evRaw {
					t.Errorf("change %d: raw %s, want the event %s", i, c.Raw, evRaw)
				}
			}
		})
	}
}

// TestWebhookChangesErrors: payloads Changes cannot turn into exact
// changes are errors wrapping ErrWebhookPayload, naming the problem.
func TestWebhookChangesErrors(t *testing.T) {
	noDate := record("lead_1")
	delete(noDate, "date_updated")
	badDate := record("lead_1")
	badDate["date_updated"] = "yesterday"
	numDate := record("lead_1")
	numDate["date_updated"] = 1772366400
	noID := record("lead_1")
	delete(noID, "id")
	merged := closeEvent("lead", "merged", "lead_1", record("lead_1"))
	badEventDate := closeEvent("lead", "deleted", "lead_1", nil)
	badEventDate["date_updated"] = 12
	for _, tc := range []struct {
		name, body, because string
	}{
		{"not JSON", `{"event":`, "invalid JSON"},
		{"empty", ``, "empty body"},
		{"array", `[]`, "not {\"event\""},
		{"no event", `{"subscription_id":"whsub_1"}`, "not {\"event\""},
		{"event not object", `{"event":"lead"}`, "not {\"event\""},
		{"no action", `{"event":{"id":"ev_1","object_type":"lead"}}`, "no object_type or action"},
		{"created without data", string(payload(t, closeEvent("lead", "created", "lead_1", nil))), "has no data"},
		{"record without date", string(payload(t, closeEvent("lead", "updated", "lead_1", noDate))), "has no date_updated"},
		{"record date unreadable", string(payload(t, closeEvent("contact", "updated", "lead_1", badDate))), `"yesterday"`},
		{"record date a number", string(payload(t, closeEvent("contact", "updated", "lead_1", numDate))), `"1772366400"`},
		{"record without id", string(payload(t, closeEvent("lead", "created", "lead_1", noID))), "no id"},
		{"deleted without object", string(payload(t, closeEvent("lead", "deleted", "", nil))), "names no object"},
		{"deleted date not a string", string(payload(t, badEventDate)), "is not a date"},
		{"merged without source", string(payload(t, merged)), "names no object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := New().Changes(&source.WebhookRequest{Body: []byte(tc.body)})
			if !errors.Is(err, ErrWebhookPayload) {
				t.Fatalf("changes %+v, error %v; want ErrWebhookPayload", got, err)
			}
			if !strings.Contains(err.Error(), tc.because) {
				t.Errorf("error %q does not say %q", err, tc.because)
			}
		})
	}
}

// webhookSettings compiles an instance configuration with the given
// pollers (resource name → poller fields), as the engine would.
func webhookSettings(t testing.TB, baseURL string, pollers map[string]map[string]any) *instances.Settings {
	t.Helper()
	cfg := map[string]string{"username": DefaultSimAPIKey, "password": "", "event.vendor.type": "webhook"}
	if baseURL != "" {
		cfg["base.url"] = baseURL
	}
	if pollers != nil {
		b, err := json.Marshal(pollers)
		if err != nil {
			t.Fatal(err)
		}
		cfg["event.poller.configuration"] = string(b)
	}
	s, err := instances.Compile(Spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWebhookChangesFollowPollers: changes are named after the instance's
// pollers and read with their id and date fields; resources it does not
// poll are not reported.
func TestWebhookChangesFollowPollers(t *testing.T) {
	settings := webhookSettings(t, "", map[string]map[string]any{
		"crm-accounts": {"url": hubURL("accounts")},
		"people": {"url": hubURL("contacts"), "datesConfiguration": map[string]any{
			"updatedDateField": "date_created", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
		}},
		"raw": {"url": "/task/?_order_by=date_created", "filterByUpdatedDate": false},
	})
	src := New()
	for _, tc := range []struct {
		ev   map[string]any
		want string // resource type id date, "" for none
	}{
		{closeEvent("lead", "updated", "lead_1", record("lead_1")), "crm-accounts UPDATED lead_1 2026-03-01T12:00:04.987654Z"},
		// The people poller reads date_created as the updated date.
		{closeEvent("contact", "created", "cont_1", record("cont_1")), "people CREATED cont_1 2026-03-01T11:00:00.000001Z"},
		{closeEvent("contact", "deleted", "cont_1", nil), "people DELETED cont_1 2026-03-01T12:00:05.123456Z"},
		{closeEvent("opportunity", "created", "oppo_1", record("oppo_1")), ""},
		{closeEvent("activity.note", "deleted", "acti_1", nil), ""},
	} {
		got, err := src.Changes(&source.WebhookRequest{Settings: settings, Body: payload(t, tc.ev)})
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, c := range got {
			s = append(s, fmt.Sprintf("%s %s %s %s", c.Resource, c.Type, c.ObjectID, c.Date.UTC().Format(time.RFC3339Nano)))
		}
		if strings.Join(s, "; ") != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.ev["object_type"], tc.ev["action"], s, tc.want)
		}
	}
}

// receiver is a webhook endpoint that records what is pushed to it and
// answers what status(n) says for the n-th request (1-based; 200 when
// status is nil).
type receiver struct {
	mu     sync.Mutex
	pushes []pushed
	status func(n int) int
	srv    *httptest.Server
}

type pushed struct {
	header http.Header
	body   []byte
}

func newReceiver(t testing.TB, status func(n int) int) *receiver {
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.pushes = append(r.pushes, pushed{req.Header.Clone(), b})
		n := len(r.pushes)
		r.mu.Unlock()
		code := http.StatusOK
		if r.status != nil {
			code = r.status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []pushed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pushes)
}

func flush(t testing.TB, sim *Simulator) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

// changeKey is what the engine dedupes on.
func changeKey(resource, typ, id string, at time.Time) string {
	if typ != "DELETED" {
		typ = "RECORD"
	}
	return fmt.Sprintf("%s %s %s %d", resource, typ, id, at.UnixNano())
}

// TestWebhookDatesMatchPoll makes changes of every resource in the
// simulator, captures its webhooks and polls the same window: every record
// and deletion the poll reports has a webhook change with the same
// (ObjectID, Date), so the engine delivers a change seen both ways once.
func TestWebhookDatesMatchPoll(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	t.Cleanup(sim.Close)
	rcv := newReceiver(t, nil)
	_, key := sim.AddWebhook(rcv.srv.URL, SubscriptionEvents(nil)...)
	since := clk.Now()
	clk.Add(time.Minute)

	step := func() { clk.Add(1234567 * time.Microsecond) }
	var mutations int
	ids := map[string][]string{}
	for _, typ := range simTypes {
		for i := range 3 {
			fields := map[string]any{}
			if typ == TypeActivity {
				fields["_type"] = []string{"Note", "Call", "Email"}[i]
			}
			if typ != TypeLead {
				fields["lead_id"] = ids[TypeLead][0]
			}
			ids[typ] = append(ids[typ], sim.Create(typ, fields)["id"].(string))
			mutations++
			step()
		}
	}
	for _, typ := range simTypes {
		if _, err := sim.Update(typ, ids[typ][1], map[string]any{"description": "changed"}); err != nil {
			t.Fatal(err)
		}
		mutations++
		step()
		if typ != TypeLead {
			if err := sim.Delete(typ, ids[typ][2]); err != nil {
				t.Fatal(err)
			}
			mutations++
			step()
		}
	}
	flush(t, sim)
	if sent, delivered, dropped := sim.Webhooks(); sent != mutations || delivered != sent || dropped != 0 {
		t.Fatalf("webhooks sent %d, delivered %d, dropped %d; want %d each delivered", sent, delivered, dropped, mutations)
	}

	inst := webhookInstance(map[string]string{connectors.KeyWebhookSecret: key})
	fromHook := map[string]bool{}
	src := New()
	for _, p := range rcv.all() {
		req := &source.WebhookRequest{Instance: inst, Method: http.MethodPost, Header: p.header, Body: p.body, Now: clk.Now()}
		if err := src.Verify(req); err != nil {
			t.Fatalf("pushed webhook refused: %v", err)
		}
		changes, err := src.Changes(req)
		if err != nil || len(changes) != 1 {
			t.Fatalf("changes %+v, %v of %s", changes, err, p.body)
		}
		c := changes[0]
		fromHook[changeKey(c.Resource, c.Type, c.ObjectID, c.Date)] = true
	}

	matched := 0
	for _, res := range []string{ResourceAccounts, ResourceContacts, ResourceOpportunities, ResourceActivities} {
		req := request(t, srv.URL, res, since, pollOpts{})
		err := src.Poll(context.Background(), req, func(rec source.Record) error {
			var k string
			if rec.Deleted {
				k = changeKey(res, "DELETED", rec.ID, rec.DeletedAt)
			} else {
				// The engine's reading: the poller's id and updated date fields.
				id := gjson.GetBytes(rec.Raw, req.Poller.IDField).String()
				at, err := req.Poller.Updated.Parse(gjson.GetBytes(rec.Raw, req.Poller.Updated.Field).String())
				if err != nil {
					t.Fatal(err)
				}
				k = changeKey(res, "RECORD", id, at)
			}
			if !fromHook[k] {
				t.Errorf("polled %s has no webhook change with the same id and date", k)
			}
			matched++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// 3 leads, 2 of each other type (the third was deleted) and 3 deletions.
	if matched != 12 {
		t.Errorf("%d polled changes compared, want 12", matched)
	}
}

// TestSubscribe subscribes against the simulator, which then pushes
// signed webhooks that verify with the returned key; subscribing again
// reuses the subscription, duplicates are removed, and Unsubscribe stops
// the pushes.
func TestSubscribe(t *testing.T) {
	sim, srv, clk := newTestSim(t, SimOptions{})
	t.Cleanup(sim.Close)
	rcv := newReceiver(t, nil)
	callback := rcv.srv.URL + "/elements/api-v2/events/closeio/MQ"
	settings := webhookSettings(t, srv.URL+"/api/v1", map[string]map[string]any{
		"accounts": {"url": hubURL("accounts")}, "contacts": {"url": hubURL("contacts")},
	})
	src := New()
	subReq := &source.SubscribeRequest{Instance: webhookInstance(nil), Settings: settings, CallbackURL: callback, Client: &http.Client{Timeout: 5 * time.Second}}
	secrets, err := src.Subscribe(context.Background(), subReq)
	if err != nil {
		t.Fatal(err)
	}
	key, id := secrets[connectors.KeyWebhookSecret], secrets[KeyWebhookSubscriptionID]
	if k, err := hex.DecodeString(key); err != nil || len(k) != 32 || !strings.HasPrefix(id, "whsub_") || len(secrets) != 2 {
		t.Fatalf("secrets %v", secrets)
	}
	for _, k := range []string{connectors.KeyWebhookSecret, KeyWebhookSubscriptionID} {
		if !Spec.IsSecret(k) {
			t.Errorf("%s is not declared secret", k)
		}
	}
	list := get(t, srv, "/api/v1/webhook/")
	if n := len(list.json("data").Array()); n != 1 {
		t.Fatalf("%d subscriptions: %s", n, list.body)
	}
	var events []WebhookEvent
	if err := json.Unmarshal([]byte(list.json("data.0.events").Raw), &events); err != nil {
		t.Fatal(err)
	}
	wantEvents := []WebhookEvent{
		{"contact", "created"}, {"contact", "updated"}, {"contact", "deleted"},
		{"lead", "created"}, {"lead", "updated"}, {"lead", "deleted"},
	}
	if !slices.Equal(events, wantEvents) || list.json("data.0.url").Str != callback || !list.json("data.0.verify_ssl").Bool() {
		t.Fatalf("subscription %s", list.json("data.0").Raw)
	}

	// A subscribed change is pushed, signed with the returned key.
	lead := sim.Create(TypeLead, nil)["id"].(string)
	// An opportunity is not subscribed to.
	sim.Create(TypeOpportunity, map[string]any{"lead_id": lead})
	flush(t, sim)
	pushes := rcv.all()
	if len(pushes) != 1 {
		t.Fatalf("%d webhooks pushed, want 1", len(pushes))
	}
	inst := webhookInstance(secrets)
	wreq := &source.WebhookRequest{Instance: inst, Method: http.MethodPost, Header: pushes[0].header, Body: pushes[0].body, Now: clk.Now(), Settings: settings}
	if err := src.Verify(wreq); err != nil {
		t.Fatal(err)
	}
	if changes, err := src.Changes(wreq); err != nil || len(changes) != 1 || changes[0].ObjectID != lead || changes[0].Type != "CREATED" || changes[0].Resource != "accounts" {
		t.Fatalf("changes %+v, %v", changes, err)
	}
	if gjson.GetBytes(pushes[0].body, "subscription_id").Str != id {
		t.Errorf("pushed for subscription %s, want %s", gjson.GetBytes(pushes[0].body, "subscription_id").Str, id)
	}

	// Subscribing again, with opportunities added, updates the same
	// subscription; a duplicate for the URL is deleted.
	dupID, _ := sim.AddWebhook(callback, WebhookEvent{"lead", "created"})
	subReq.Settings = webhookSettings(t, srv.URL+"/api/v1", map[string]map[string]any{
		"accounts": {"url": hubURL("accounts")}, "contacts": {"url": hubURL("contacts")}, "opportunities": {"url": hubURL("opportunities")},
	})
	again, err := src.Subscribe(context.Background(), subReq)
	if err != nil {
		t.Fatal(err)
	}
	if again[KeyWebhookSubscriptionID] != id || again[connectors.KeyWebhookSecret] != key {
		t.Errorf("resubscribing made %v, want the same subscription %s", again, id)
	}
	list = get(t, srv, "/api/v1/webhook/")
	if n := len(list.json("data").Array()); n != 1 || list.json("data.0.id").Str != id {
		t.Fatalf("after resubscribing: %s", list.body)
	}
	if n := len(list.json("data.0.events").Array()); n != 9 {
		t.Errorf("%d events subscribed, want 9", n)
	}
	if a := get(t, srv, "/api/v1/webhook/"+dupID+"/"); a.status != http.StatusNotFound {
		t.Errorf("duplicate subscription still there: %d", a.status)
	}

	// A new callback URL moves the instance's subscription.
	subReq.Instance = inst
	subReq.CallbackURL = callback + "/moved"
	moved, err := src.Subscribe(context.Background(), subReq)
	if err != nil {
		t.Fatal(err)
	}
	list = get(t, srv, "/api/v1/webhook/")
	if moved[KeyWebhookSubscriptionID] != id || len(list.json("data").Array()) != 1 || list.json("data.0.url").Str != subReq.CallbackURL {
		t.Fatalf("after moving the callback: %v, %s", moved, list.body)
	}

	// Unsubscribe deletes it (twice is fine), and nothing is pushed after.
	for range 2 {
		if err := src.Unsubscribe(context.Background(), subReq); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(get(t, srv, "/api/v1/webhook/").json("data").Array()); n != 0 {
		t.Fatalf("%d subscriptions after Unsubscribe", n)
	}
	sim.Create(TypeLead, nil)
	flush(t, sim)
	if n := len(rcv.all()); n != 1 {
		t.Errorf("%d webhooks pushed after Unsubscribe, want still 1", n)
	}

	// Without a stored id, Unsubscribe removes the callback URL's subscriptions.
	subReq.CallbackURL = callback
	sim.AddWebhook(callback, WebhookEvent{"lead", "created"})
	other, _ := sim.AddWebhook("http://elsewhere.example/hook", WebhookEvent{"lead", "created"})
	subReq.Instance = webhookInstance(nil)
	if err := src.Unsubscribe(context.Background(), subReq); err != nil {
		t.Fatal(err)
	}
	list = get(t, srv, "/api/v1/webhook/")
	if n := len(list.json("data").Array()); n != 1 || list.json("data.0.id").Str != other {
		t.Errorf("after unsubscribing by URL: %s", list.body)
	}
}

// TestSubscribeErrors: Close's refusals come back as VendorErrors naming
// the call.
func TestSubscribeErrors(t *testing.T) {
	sim, srv, _ := newTestSim(t, SimOptions{})
	t.Cleanup(sim.Close)
	src := New()
	settings := webhookSettings(t, srv.URL, nil)
	for _, tc := range []struct {
		name     string
		inst     *instances.Instance
		callback string
		because  string
	}{
		{"no callback", webhookInstance(nil), "", "no callback URL"},
		{"bad callback", webhookInstance(nil), "ftp://x", "url"},
		{"wrong key", &instances.Instance{Secrets: map[string]string{"username": "nope"}}, "http://x/hook", "401"},
		{"no key", &instances.Instance{}, "http://x/hook", "no API key"},
	} {
		_, err := src.Subscribe(context.Background(), &source.SubscribeRequest{Instance: tc.inst, Settings: settings, CallbackURL: tc.callback})
		if err == nil || !strings.Contains(err.Error(), tc.because) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.because)
		}
	}
	err := src.Unsubscribe(context.Background(), &source.SubscribeRequest{Instance: webhookInstance(nil), Settings: settings})
	if err == nil || !strings.Contains(err.Error(), "no callback URL") {
		t.Errorf("unsubscribe with nothing to name the subscription: %v", err)
	}
}

// TestSubscriptionEvents: the events follow the instance's hub pollers,
// all four resources when it has none.
func TestSubscriptionEvents(t *testing.T) {
	all := SubscriptionEvents(nil)
	if len(all) != 3*(3+len(ActivityEventTypes)) {
		t.Errorf("%d events for all resources: %v", len(all), all)
	}
	for _, e := range all {
		if !validWebhookEvent(e.ObjectType, e.Action) || e.Action == "merged" {
			t.Errorf("event %v", e)
		}
	}
	some := SubscriptionEvents(webhookSettings(t, "", map[string]map[string]any{
		"a": {"url": hubURL("activities")}, "b": {"url": hubURL("accounts")}, "c": {"url": "/task/", "filterByUpdatedDate": false},
	}))
	var types []string
	for _, e := range some {
		types = append(types, e.ObjectType)
	}
	want := slices.Concat([]string{"lead"}, ActivityEventTypes)
	if got := slices.Compact(types); !slices.Equal(got, want) {
		t.Errorf("object types %v, want %v", got, want)
	}
}
