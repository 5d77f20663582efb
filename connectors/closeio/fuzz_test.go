package closeio

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
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
