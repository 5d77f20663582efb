package closeio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// maxDepth bounds the nesting of a page. gjson validates recursively, so a
// 64 MiB body of "[[[[…" would otherwise overflow the goroutine stack, a
// crash no recover catches.
const maxDepth = 10_000

// page is one parsed Close answer.
type page struct {
	records [][]byte // each record's JSON; they alias the body
	hasMore bool
}

var utf8BOM = []byte("\xEF\xBB\xBF")

// parsePage checks that body is a JSON object with an array (or null) of
// records at recordsPath and, when hasMorePath is set, a boolean there. The
// records alias body, which must not change afterwards.
func parsePage(body []byte, recordsPath, hasMorePath string) (page, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if !validJSON(body) {
		return page{}, invalidJSON(body)
	}
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		return page{}, fmt.Errorf("the response is %s, not an object", kind(doc))
	}
	var out page
	recs := doc.Get(recordsPath)
	switch {
	case recs.IsArray():
		var bad string
		recs.ForEach(func(_, v gjson.Result) bool {
			if !v.IsObject() {
				bad = kind(v)
				return false
			}
			out.records = append(out.records, slice(body, v))
			return true
		})
		if bad != "" {
			return page{}, fmt.Errorf("a record in %q is %s, not an object", recordsPath, bad)
		}
	case recs.Type == gjson.Null && recs.Exists():
	case !recs.Exists():
		return page{}, fmt.Errorf("%q is not in the response", recordsPath)
	default:
		return page{}, fmt.Errorf("%q is %s, not an array of records", recordsPath, kind(recs))
	}
	if hasMorePath != "" {
		hm := doc.Get(hasMorePath)
		if hm.Type != gjson.True && hm.Type != gjson.False {
			// Reading a missing flag as false would stop after one page and
			// lose records on every poll.
			return page{}, fmt.Errorf("%q is %s, not true or false", hasMorePath, kind(hm))
		}
		out.hasMore = hm.Bool()
	}
	return out, nil
}

// slice returns v's bytes in body, or a copy when they are not there.
func slice(body []byte, v gjson.Result) []byte {
	i, n := v.Index, len(v.Raw)
	if n > 0 && i > 0 && i+n <= len(body) && string(body[i:i+n]) == v.Raw {
		return body[i : i+n : i+n]
	}
	return []byte(v.Raw)
}

// scalar returns a cursor value as a string of its own, "" for null, false,
// an empty string and absent values.
func scalar(r gjson.Result) string {
	switch r.Type {
	case gjson.String:
		return strings.Clone(r.Str)
	case gjson.Number:
		return strings.Clone(r.Raw)
	}
	return ""
}

func kind(r gjson.Result) string {
	switch {
	case !r.Exists():
		return "missing"
	case r.IsObject():
		return "an object"
	case r.IsArray():
		return "an array"
	case r.Type == gjson.String:
		return "a string"
	case r.Type == gjson.Number:
		return "a number"
	case r.Type == gjson.True, r.Type == gjson.False:
		return "a boolean"
	}
	return "null"
}

// validJSON reports whether b is one JSON value nested at most maxDepth
// deep.
func validJSON(b []byte) bool {
	return depthWithin(b, maxDepth) && gjson.ValidBytes(b)
}

// depthWithin reports whether the brackets of b, outside strings, nest at
// most max deep; it runs before gjson's recursive validator.
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

// invalidJSON explains why a body is not JSON.
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
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON in response: %s at byte %d, starting %q", se.Error(), se.Offset, clip(oneLine(string(body)), 60))
	}
	return fmt.Errorf("invalid JSON in response, starting %q", clip(oneLine(string(body)), 60))
}
