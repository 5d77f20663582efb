package rest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// FuzzRestWebhook feeds arbitrary pushes, paths and signatures to the rest
// connector's webhook reader and verifier. They must not panic; what
// Changes accepts must hold (a resource, a known type, an id, Raw a JSON
// object); Verify must accept only the right HMAC.
func FuzzRestWebhook(f *testing.F) {
	for _, s := range []struct{ body, records, record, typ, sig string }{
		{`[{"kind":"contacts","event":"created","id":"c_1","updated_at":"2026-03-01T12:00:00.123Z"}]`, "", "", "event", ""},
		{`{"data":{"items":[{"kind":"deals","action":"deal.deleted","object":{"deal":{"key":7},"modified":1772366400123}}]}}`, "data.items", "object", "action", "sha256=00"},
		{`{"kind":"tickets","id":9007199254740993}`, "", "", "", "zz"},
		{`{"data":null}`, "data", "", "", ""},
		{`[{"kind":"contacts","id":{"x":1}},1,null]`, "#", "@reverse", "event|@pretty", ""},
		{`[[[[[[[[`, "", "", "", ""},
		{``, "..", "*", "?", ""},
		{"\xEF\xBB\xBF[]", "", "", "", ""},
	} {
		f.Add([]byte(s.body), s.records, s.record, s.typ, s.sig)
	}
	settings, err := instances.Compile(Spec, map[string]string{
		"base.url": "https://vendor.example",
		connectors.KeyPollerConfiguration: `{
			"contacts": {"url": "/c", "datesConfiguration": {"updatedDateField": "updated_at", "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSX"}},
			"deals": {"url": "/d", "idField": "deal.key", "datesConfiguration": {"updatedDateField": "modified", "updatedDateFormat": "milliseconds"}}}`,
	})
	if err != nil {
		f.Fatal(err)
	}
	src := New()
	types := map[string]bool{changeCreated: true, changeUpdated: true, changeDeleted: true}
	f.Fuzz(func(t *testing.T, body []byte, records, record, typ, sig string) {
		orig := bytes.Clone(body)
		inst := hookInstance("k", map[string]string{
			KeyWebhookRecordsPath: records, KeyWebhookRecordPath: record, KeyWebhookTypePath: typ,
			KeyWebhookResourcePath: "kind", KeyWebhookTimestampHeader: "X-T",
		})
		req := &source.WebhookRequest{Instance: inst, Settings: settings, Method: "POST", Body: body, Now: time.Unix(1700000000, 0)}
		cs, err := src.Changes(req)
		if !bytes.Equal(body, orig) {
			t.Fatal("Changes wrote to the body")
		}
		if err == nil {
			for i, c := range cs {
				if c.Resource == "" || !types[c.Type] || c.ObjectID == "" || !json.Valid(c.Raw) || !gjson.ParseBytes(c.Raw).IsObject() {
					t.Fatalf("change %d: %+v raw %s", i, c, c.Raw)
				}
			}
		}
		req.Header = http.Header{}
		req.Header.Set("X-Signature", sig)
		req.Header.Set("X-T", "1700000000")
		err = src.Verify(req)
		if err != nil && !errors.Is(err, source.ErrSignature) {
			t.Fatalf("refusal does not wrap ErrSignature: %v", err)
		}
		if err == nil {
			got, _ := decodeSignature(sig, EncodingHex)
			mac := hmac.New(sha256.New, []byte("k"))
			mac.Write([]byte("1700000000."))
			mac.Write(body)
			if !hmac.Equal(got, mac.Sum(nil)) {
				t.Fatalf("accepted signature %q", sig)
			}
		}
	})
}
