package hubspot

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tidwall/gjson"
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
