package closeio

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
)

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
	if !vendorio.ValidJSON(body, vendorio.MaxDepth) {
		return page{}, vendorio.InvalidJSON(body, vendorio.MaxDepth)
	}
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		return page{}, fmt.Errorf("the response is %s, not an object", vendorio.Kind(doc))
	}
	var out page
	recs := doc.Get(recordsPath)
	switch {
	case recs.IsArray():
		var bad string
		recs.ForEach(func(_, v gjson.Result) bool {
			if !v.IsObject() {
				bad = vendorio.Kind(v)
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
		return page{}, fmt.Errorf("%q is %s, not an array of records", recordsPath, vendorio.Kind(recs))
	}
	if hasMorePath != "" {
		hm := doc.Get(hasMorePath)
		if hm.Type != gjson.True && hm.Type != gjson.False {
			// Reading a missing flag as false would stop after one page and
			// lose records on every poll.
			return page{}, fmt.Errorf("%q is %s, not true or false", hasMorePath, vendorio.Kind(hm))
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
