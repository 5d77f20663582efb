package rest

import (
	"bytes"
	"fmt"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
)

// page is one parsed page body: where its records are and what it says
// about the next page.
type page struct {
	body    []byte
	records gjson.Result // an array, or Null when the vendor sent null for none
	hasMore bool         // the value at hasMorePath
	cursor  string       // the value at cursorPath, "" for none
	next    string       // the value at nextPath, "" for none
}

var utf8BOM = []byte("\xEF\xBB\xBF")

// parsePage checks that body is JSON and locates its records and paging
// fields as pg declares them. body must not change afterwards: the page and
// the records it yields alias it.
func parsePage(body []byte, recordsPath string, pg *Pagination) (page, error) {
	body = bytes.TrimPrefix(body, utf8BOM) // some Windows-hosted APIs send one
	if !vendorio.ValidJSON(body, vendorio.MaxDepth) {
		return page{}, vendorio.InvalidJSON(body, vendorio.MaxDepth)
	}
	// The body is never written again, so gjson may read it as a string
	// without the copy GetBytes makes of every result.
	doc := unsafe.String(unsafe.SliceData(body), len(body))
	out := page{body: body}

	if recordsPath == "" {
		out.records = gjson.Parse(doc)
	} else {
		out.records = gjson.Get(doc, recordsPath)
	}
	switch {
	case out.records.IsArray():
	case recordsPath == "":
		return page{}, fmt.Errorf("the response is %s, not an array of records; set recordsPath to the field that holds them", kind(out.records))
	case !out.records.Exists():
		return page{}, fmt.Errorf("recordsPath %q is not in the response", recordsPath)
	case out.records.Type == gjson.Null:
		// Some vendors answer {"data": null} when nothing matched.
	default:
		return page{}, fmt.Errorf("recordsPath %q is %s, not an array of records", recordsPath, kind(out.records))
	}

	if pg.HasMorePath != "" && pg.Type != PageNone && pg.Type != PageNext {
		r := gjson.Get(doc, pg.HasMorePath)
		if !r.Exists() {
			// Reading a missing flag as false would silently stop after the
			// first page and lose records on every poll.
			return page{}, fmt.Errorf("hasMorePath %q is not in the response", pg.HasMorePath)
		}
		out.hasMore = r.Bool()
	}
	switch pg.Type {
	case PageCursor:
		// A missing or null cursor is how cursor APIs say "last page".
		out.cursor = scalar(gjson.Get(doc, pg.CursorPath))
	case PageNext:
		if pg.NextPath != "" {
			out.next = scalar(gjson.Get(doc, pg.NextPath))
		}
	}
	return out, nil
}

// scalar returns a cursor or URL value as a string of its own (it outlives
// the page), or "" for null, false and absent values.
func scalar(r gjson.Result) string {
	switch r.Type {
	case gjson.String:
		return strings.Clone(r.Str)
	case gjson.Number:
		return strings.Clone(r.Raw) // as sent: large ids must not go through float64
	case gjson.JSON:
		return strings.Clone(r.Raw)
	}
	return ""
}

// each calls fn with every record's JSON, in order, and returns how many
// records it passed. The slices alias the page body, which is never reused,
// so no record is copied; their capacity ends with the record so an append
// cannot write into the next one.
func (p *page) each(fn func(raw []byte) error) (int, error) {
	if !p.records.IsArray() {
		return 0, nil // null: ForEach would hand out the null itself
	}
	n := 0
	var err error
	p.records.ForEach(func(_, v gjson.Result) bool {
		if err = fn(p.slice(v)); err != nil {
			return false
		}
		n++
		return true
	})
	return n, err
}

// slice returns v's bytes in the body, or a copy when gjson built v itself
// (paths with modifiers or multipaths).
func (p *page) slice(v gjson.Result) []byte {
	i, n := v.Index, len(v.Raw)
	if n > 0 && i >= 0 && i+n <= len(p.body) && unsafe.StringData(v.Raw) == &p.body[i] {
		return p.body[i : i+n : i+n]
	}
	return []byte(v.Raw)
}

// kind names r's JSON type for messages; this connector's say "empty" for
// a missing value and "not an array" for an array.
func kind(r gjson.Result) string {
	switch {
	case !r.Exists():
		return "empty"
	case r.IsArray():
		return "not an array"
	}
	return vendorio.Kind(r)
}
