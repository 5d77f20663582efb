package hubspot

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// FuzzSearchPage feeds arbitrary bodies to the page parsers. They must not
// panic, and what they accept must hold: every record is a JSON object
// lying inside the body, with an id, and in a search page a time.
func FuzzSearchPage(f *testing.F) {
	for _, seed := range []string{
		`{"total":2,"results":[{"id":"1","properties":{"lastmodifieddate":"2024-09-11T13:27:39.356Z"},"createdAt":"2024-09-11T13:27:39.356Z","updatedAt":"2024-09-11T13:27:39.356Z","archived":false}],"paging":{"next":{"after":"1"}}}`,
		`{"results":[{"id":123,"properties":{"lastmodifieddate":null},"updatedAt":"2024-09-11T13:27:39Z"}]}`,
		`{"results":[{"id":"9","properties":{"lastmodifieddate":"1726061259356"},"archivedAt":1726061259356}],"paging":{"next":{"after":200}}}`,
		`{"results":[]}`,
		`{"results":null}`,
		`[]`,
		`{"results":[1,"x",null]}`,
		"\xEF\xBB\xBF{\"results\":[]}",
		`{"results":[{"id":"1","properties":{"lastmodifieddate":"2024-02-30T00:00:00Z"}}]}`,
		`{"results":[{"id":"","updatedAt":"x"}]}`,
		`[[[[[[[[[[[[[[[[[[[[`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		for _, parse := range []func([]byte) (page, error){
			func(b []byte) (page, error) { return parseSearchPage(b, "lastmodifieddate") },
			parseArchivedPage,
			parseListPage,
		} {
			pg, err := parse(body)
			if !bytes.Equal(body, orig) {
				t.Fatal("a parser wrote to the body")
			}
			if err != nil {
				if len(pg.records) != 0 || pg.next != "" {
					t.Fatalf("an error with a page: %v", err)
				}
				continue
			}
			for i, r := range pg.records {
				if r.id == "" || !json.Valid(r.raw) || !gjson.ParseBytes(r.raw).IsObject() {
					t.Fatalf("record %d: id %q raw %q", i, r.id, r.raw)
				}
				if cap(r.raw) != len(r.raw) {
					t.Fatalf("record %d can grow into the next one", i)
				}
			}
		}
		// The error-message reader must not panic either.
		_ = vendorMessage(body)
	})
}

// FuzzWebhookPayload feeds arbitrary bodies and headers to the webhook
// reader and verifier. They must not panic; what Changes accepts must hold:
// a known resource and type, an id, and Raw a JSON array of events; and
// Verify must refuse every request not signed with the secret.
func FuzzWebhookPayload(f *testing.F) {
	for _, seed := range []string{
		`[{"eventId":1,"subscriptionId":12345,"portalId":62515,"appId":54321,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM"}]`,
		`[{"occurredAt":1,"subscriptionType":"contact.creation","objectId":1},{"occurredAt":1,"subscriptionType":"contact.propertyChange","objectId":1,"propertyName":"email","propertyValue":"a@b"}]`,
		`[{"occurredAt":"2","subscriptionType":"object.deletion","objectTypeId":"0-48","objectId":"7"}]`,
		`[{"occurredAt":3,"subscriptionType":"deal.merge","primaryObjectId":1,"mergedObjectIds":[2,3,1],"newObjectId":4}]`,
		`[{"occurredAt":3,"subscriptionType":"company.merge","mergedObjectIds":null}]`,
		`{"occurredAt":1,"subscriptionType":"contact.restore","objectId":9007199254740993}`,
		`[{"occurredAt":1e30,"subscriptionType":"contact.creation","objectId":1}]`,
		`[{"occurredAt":-9223372036854775808,"subscriptionType":"contact.creation","objectId":1}]`,
		`[null,1,"x"]`, `[]`, `[[[[[[`, ``, "\xEF\xBB\xBF[]",
	} {
		f.Add([]byte(seed), "", "1564113600000")
	}
	src := New()
	resources := map[string]bool{"contacts": true, "accounts": true, "opportunities": true, "activities": true}
	types := map[string]bool{changeCreated: true, changeUpdated: true, changeDeleted: true}
	u, _ := url.Parse("https://pollwire.example/elements/api-v2/events/hubspot/MTI=")
	f.Fuzz(func(t *testing.T, body []byte, sig, ts string) {
		orig := bytes.Clone(body)
		req := &source.WebhookRequest{Body: body}
		cs, err := src.Changes(req)
		if !bytes.Equal(body, orig) {
			t.Fatal("Changes wrote to the body")
		}
		if err == nil {
			for i, c := range cs {
				var raw []json.RawMessage
				if !resources[c.Resource] || !types[c.Type] || c.ObjectID == "" || json.Unmarshal(c.Raw, &raw) != nil || len(raw) == 0 {
					t.Fatalf("change %d: %+v raw %s", i, c, c.Raw)
				}
			}
		}
		h := http.Header{}
		h.Set(HeaderSignatureV3, sig)
		h.Set(HeaderRequestTimestamp, ts)
		req = &source.WebhookRequest{
			Instance: &instances.Instance{Secrets: map[string]string{KeyClientSecret: "s3cret"}},
			Method:   "POST", URL: u, Header: h, Body: body, Now: time.UnixMilli(1564113600000),
		}
		if err := src.Verify(req); err == nil {
			good := SignV3("s3cret", "POST", u.String(), body, ts)
			got, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
			if base64.StdEncoding.EncodeToString(got) != good {
				t.Fatalf("accepted signature %q, the right one is %q", sig, good)
			}
		} else if !errors.Is(err, source.ErrSignature) {
			t.Fatalf("refusal does not wrap ErrSignature: %v", err)
		}
	})
}
