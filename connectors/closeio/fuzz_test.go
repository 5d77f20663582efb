package closeio

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// FuzzVendorPage feeds arbitrary answers to everything that reads Close's
// bodies and headers: page parsing (lists, searches, the event log),
// deletion events, record dates, error messages and the RateLimit header.
// None may panic; a page that parses yields records that are JSON objects
// lying inside the body.
func FuzzVendorPage(f *testing.F) {
	for _, seed := range []string{
		`{"has_more":false,"total_results":1,"data":[{"id":"lead_1","date_updated":"2019-01-15T12:48:23.392000+00:00"}]}`,
		`{"data":[{"__object_type":"contact","id":"cont_1"}],"cursor":"7b7d"}`,
		`{"data":[{"id":"ev_1","object_id":"cont_1","action":"deleted","date_updated":"2019-01-15T12:48:23.395000"}],"cursor_next":null,"cursor_previous":"x"}`,
		`{"data":null,"has_more":true}`,
		`{"data":[1,2],"has_more":false}`,
		`{"error":{"message":"API call count exceeded","rate_reset":1.5}}`,
		`{"errors":["x"],"field-errors":{"_limit":"too big"}}`,
		`{"error":"Unauthorized"}`,
		"\xEF\xBB\xBF{\"data\":[],\"has_more\":false}",
		`[[[[[[`,
		``,
		`limit=100, remaining=57, reset=3.2`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		for _, hasMore := range []string{"has_more", ""} {
			pg, err := parsePage(body, "data", hasMore)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				continue
			}
			for _, raw := range pg.records {
				if !gjson.ValidBytes(raw) || !gjson.ParseBytes(raw).IsObject() {
					t.Fatalf("record %q is not a JSON object", raw)
				}
				if !bytes.Contains(body, raw) {
					t.Fatalf("record %q is not from the body", raw)
				}
				if rec, err := deletion(raw); err == nil {
					if !rec.Deleted || rec.ID == "" || rec.DeletedAt.IsZero() && !strings.HasPrefix(gjson.GetBytes(raw, "date_updated").Str, "0001-01-01") {
						t.Fatalf("deletion %+v from %q", rec, raw)
					}
				}
				recordDate(raw, "date_updated")
			}
		}
		if msg := closeMessage(body); msg == "" || len(msg) > 600 {
			t.Fatalf("message %q", msg)
		}
		if rl, ok := parseRateLimit(string(body)); ok && (rl.limit < 0 || rl.remaining < 0 || rl.reset < 0 || rl.reset > 24*time.Hour) {
			t.Fatalf("rate limit %+v from %q", rl, body)
		}
		parseEventTime(string(body))
		parseRetryAfter(string(body), time.Now())
		scalar(gjson.GetBytes(body, "cursor"))
		if !bytes.Equal(body, orig) {
			t.Fatal("parsing changed the body")
		}
	})
}

// FuzzWebhookPayload feeds arbitrary bodies to Changes (and, signed or
// not, to Verify). Neither may panic; Changes either fails with
// ErrWebhookPayload or returns changes pollwire can deliver: a known type,
// an object id, a resource, and the event's own JSON object as Raw.
func FuzzWebhookPayload(f *testing.F) {
	for _, seed := range []string{
		`{"subscription_id":"whsub_1","event":{"id":"ev_1","object_type":"lead","action":"created","object_id":"lead_1","lead_id":"lead_1","data":{"id":"lead_1","date_updated":"2019-01-15T12:48:23.392000+00:00"},"date_updated":"2019-01-15T12:48:23.395000"}}`,
		`{"event":{"object_type":"opportunity","action":"updated","data":{"id":"oppo_1","date_updated":"2019-01-15T12:47:39.873000+00:00"},"previous_data":{"status_type":"active"}}}`,
		`{"event":{"object_type":"activity.email","action":"deleted","object_id":"acti_1","date_updated":"2019-01-15T12:48:23.395000"}}`,
		`{"event":{"object_type":"lead","action":"merged","object_id":"lead_2","meta":{"merge_source_lead_id":"lead_1","merge_destination_lead_id":"lead_2"},"data":{"id":"lead_2","date_updated":"2019-01-15T12:48:23.392000+00:00"},"date_updated":"2019-01-15T12:48:23.395000"}}`,
		`{"event":{"object_type":"contact","action":"created","data":{"id":{"x":1},"date_updated":5}}}`,
		`{"event":{"object_type":"task.lead","action":"completed"}}`,
		`{"event":{"object_type":"activity.","action":"deleted","object_id":"","date_updated":"2019-13-45T99:00:00"}}`,
		`{"event":null}`, `[]`, ``, `{"event":{"object_type":"lead","action":"created","data":[[[[`,
		"\xEF\xBB\xBF{\"event\":{}}",
	} {
		f.Add([]byte(seed), "1547556503")
	}
	src := New()
	polled := webhookSettings(f, "", map[string]map[string]any{
		"accounts": {"url": hubURL("accounts")},
		"people": {"url": hubURL("contacts"), "idField": "emails.0.email", "datesConfiguration": map[string]any{
			"updatedDateField": "date_created", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
		}},
	})
	inst := webhookInstance(map[string]string{connectors.KeyWebhookSecret: testSigKey})
	f.Fuzz(func(t *testing.T, body []byte, stamp string) {
		orig := bytes.Clone(body)
		for _, settings := range []*instances.Settings{nil, polled} {
			changes, err := src.Changes(&source.WebhookRequest{Body: body, Settings: settings})
			if err != nil {
				if !errors.Is(err, ErrWebhookPayload) {
					t.Fatalf("error %v does not wrap ErrWebhookPayload", err)
				}
				continue
			}
			for _, c := range changes {
				if c.Type != "CREATED" && c.Type != "UPDATED" && c.Type != "DELETED" {
					t.Fatalf("type %q", c.Type)
				}
				if c.ObjectID == "" || c.Resource == "" {
					t.Fatalf("change %+v without id or resource", c)
				}
				if !gjson.ValidBytes(c.Raw) || !gjson.ParseBytes(c.Raw).IsObject() {
					t.Fatalf("raw %q is not the event object", c.Raw)
				}
			}
		}
		// A body signed with the instance's key passes or fails on its
		// timestamp alone; unsigned, it never passes.
		h := http.Header{}
		h.Set(HeaderSigTimestamp, stamp)
		h.Set(HeaderSigHash, sign(t, testSigKey, stamp, body))
		err := src.Verify(&source.WebhookRequest{Instance: inst, Header: h, Body: body, Now: time.Unix(1547556503, 0)})
		if _, perr := unixSeconds(strings.TrimSpace(stamp)); err == nil && (perr != nil || strings.TrimSpace(stamp) != stamp) {
			t.Fatalf("accepted timestamp %q", stamp)
		}
		h.Set(HeaderSigHash, strings.Repeat("0", 64))
		if err := src.Verify(&source.WebhookRequest{Instance: inst, Header: h, Body: body, Now: time.Now()}); !errors.Is(err, source.ErrSignature) {
			t.Fatalf("unsigned body: %v", err)
		}
		if !bytes.Equal(body, orig) {
			t.Fatal("Changes or Verify changed the body")
		}
	})
}
