package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// maxDepth bounds the nesting of a page. gjson validates recursively, so a
// 64 MiB body of "[[[[…" would otherwise overflow the goroutine stack, a
// crash no recover catches. encoding/json uses the same bound.
const maxDepth = 10_000

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
	if !validJSON(body) {
		return page{}, invalidJSON(body)
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

func kind(r gjson.Result) string {
	switch {
	case !r.Exists():
		return "empty"
	case r.IsObject():
		return "an object"
	case r.Type == gjson.String:
		return "a string"
	case r.Type == gjson.Number:
		return "a number"
	case r.Type == gjson.True, r.Type == gjson.False:
		return "a boolean"
	case r.Type == gjson.Null:
		return "null"
	}
	return "not an array"
}

// validJSON reports whether b is one JSON value nested at most maxDepth
// deep.
func validJSON(b []byte) bool {
	return depthWithin(b, maxDepth) && gjson.ValidBytes(b)
}

// depthWithin reports whether the brackets of b, outside strings, nest at
// most max deep. It runs before gjson's recursive validator, which would
// otherwise recurse once per bracket.
func depthWithin(b []byte, max int) bool {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > max {
				return false
			}
		case ']', '}':
			depth--
		}
	}
	return true
}

// invalidJSON explains why a body is not JSON. It runs only on failure, so
// encoding/json's slower scanner may say where.
func invalidJSON(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("invalid JSON in response: empty body")
	}
	if !depthWithin(body, maxDepth) {
		return fmt.Errorf("invalid JSON in response: nested more than %d deep", maxDepth)
	}
	var v json.RawMessage
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON in response: %s at byte %d, starting %q", se.Error(), se.Offset, clip(oneLine(string(body)), 60))
	case err != nil:
		return fmt.Errorf("invalid JSON in response: %s", err.Error())
	}
	return fmt.Errorf("invalid JSON in response, starting %q", clip(oneLine(string(body)), 60))
}
