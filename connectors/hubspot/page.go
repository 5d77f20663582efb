package hubspot

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
)

// maxDepth bounds the nesting of a page: gjson validates recursively, so a
// body of "[[[[…" would otherwise overflow the goroutine stack, a crash no
// recover catches.
const maxDepth = 1000

// record is one object of a page.
type record struct {
	raw []byte // the object's JSON, aliasing the page body
	id  string
	// modified is the object's last-modified time (search pages) or its
	// archival time (archived listings).
	modified time.Time
}

// page is a parsed search or list answer.
type page struct {
	records []record
	// next is paging.next.after, "" on the last page.
	next string
}

// parseSearchPage reads a CRM search answer:
//
//	{"total":N,"results":[{"id":"1","properties":{…},"createdAt":…,"updatedAt":…,"archived":false}],"paging":{"next":{"after":"200"}}}
//
// Each result needs a string id and a modification time: the property
// dateProp (what the search sorts on) or else updatedAt. The records alias
// body, which must not change afterwards.
func parseSearchPage(body []byte, dateProp string) (page, error) {
	return parsePage(body, func(r gjson.Result) (time.Time, error) {
		v := r.Get("properties").Get(gjsonEscape(dateProp))
		if v.Type == gjson.Null || !v.Exists() || v.String() == "" {
			v = r.Get("updatedAt")
		}
		t, ok := parseInstant(v)
		if !ok {
			return time.Time{}, fmt.Errorf("neither properties.%s nor updatedAt is a date: %s", dateProp, vendorio.Clip(v.Raw, 60))
		}
		return t, nil
	})
}

// parseArchivedPage reads a listing of archived objects: as a search
// answer, with each result's archivedAt as its time.
func parseArchivedPage(body []byte) (page, error) {
	return parsePage(body, func(r gjson.Result) (time.Time, error) {
		v := r.Get("archivedAt")
		t, ok := parseInstant(v)
		if !ok {
			return time.Time{}, fmt.Errorf("archivedAt is not a date: %s", vendorio.Clip(v.Raw, 60))
		}
		return t, nil
	})
}

// parseListPage reads a listing (GET /crm/v3/objects/{type} or any path the
// poller names) without reading times.
func parseListPage(body []byte) (page, error) {
	return parsePage(body, nil)
}

func parsePage(body []byte, when func(gjson.Result) (time.Time, error)) (page, error) {
	body = bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))
	if !vendorio.ValidJSON(body, maxDepth) {
		return page{}, vendorio.InvalidJSON(body, maxDepth)
	}
	// The body is never written again, so gjson may read it in place.
	doc := unsafe.String(unsafe.SliceData(body), len(body))
	root := gjson.Parse(doc)
	if !root.IsObject() {
		return page{}, fmt.Errorf("the response is not a JSON object: %s", vendorio.Clip(doc, 60))
	}
	results := root.Get("results")
	if !results.IsArray() {
		return page{}, errors.New(`the response has no "results" array`)
	}
	var out page
	var err error
	i := 0
	results.ForEach(func(_, r gjson.Result) bool {
		rec := record{raw: slice(body, r)}
		if !r.IsObject() {
			err = fmt.Errorf("result %d is not an object: %s", i, vendorio.Clip(r.Raw, 60))
			return false
		}
		id := r.Get("id")
		switch id.Type {
		case gjson.String:
			rec.id = strings.Clone(id.Str)
		case gjson.Number:
			rec.id = strings.Clone(id.Raw) // as sent: big ids must not go through float64
		}
		if rec.id == "" {
			err = fmt.Errorf("result %d has no id: %s", i, vendorio.Clip(r.Raw, 60))
			return false
		}
		if when != nil {
			if rec.modified, err = when(r); err != nil {
				err = fmt.Errorf("result %d (id %s): %w", i, rec.id, err)
				return false
			}
		}
		out.records = append(out.records, rec)
		i++
		return true
	})
	if err != nil {
		return page{}, err
	}
	switch next := root.Get("paging.next.after"); next.Type {
	case gjson.String:
		out.next = strings.Clone(next.Str)
	case gjson.Number:
		out.next = strings.Clone(next.Raw)
	}
	return out, nil
}

// parseInstant reads HubSpot's dates: ISO 8601 instants, with or without a
// fraction ("2024-09-11T13:27:39.356Z", "2024-09-11T13:27:39Z"), or epoch
// milliseconds as a number or a string of digits (older APIs and some
// properties).
func parseInstant(v gjson.Result) (time.Time, bool) {
	switch v.Type {
	case gjson.Number:
		ms, err := strconv.ParseInt(v.Raw, 10, 64)
		return time.UnixMilli(ms).UTC(), err == nil
	case gjson.String:
		s := v.Str
		if s != "" && s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:") {
			ms, err := strconv.ParseInt(s, 10, 64)
			return time.UnixMilli(ms).UTC(), err == nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		return t.UTC(), err == nil
	}
	return time.Time{}, false
}

// slice returns r's bytes in body with the capacity cut at its end, so an
// append to one record cannot overwrite the next; a copy when gjson built
// r itself.
func slice(body []byte, r gjson.Result) []byte {
	i, n := r.Index, len(r.Raw)
	if n > 0 && i >= 0 && i+n <= len(body) && unsafe.StringData(r.Raw) == &body[i] {
		return body[i : i+n : i+n]
	}
	return []byte(r.Raw)
}

// gjsonEscape escapes the characters gjson paths give meaning to; property
// names are plain, but a poller's configuration must not inject a path.
func gjsonEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', '*', '?', '|', '#', '@', '\\', '!', '=', '<', '>', '%', '(', ')', '[', ']', '{', '}', '"', ',', ':':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
