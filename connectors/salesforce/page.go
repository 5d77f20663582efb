package salesforce

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
)

// queryPage is one answer of query or queryMore.
type queryPage struct {
	body    []byte
	records gjson.Result // an array
	done    bool
	next    string // nextRecordsUrl; "" when done
	total   int64  // totalSize, for messages
}

// parseQueryPage checks that body is a query answer:
//
//	{"totalSize": 3222, "done": false, "nextRecordsUrl": "/services/data/v59.0/query/01g…-2000", "records": [...]}
//
// A missing done flag, or done false without nextRecordsUrl, is an error:
// reading either as "last page" would silently drop the rest of the window.
// body must not change afterwards; the records alias it.
func parseQueryPage(body []byte) (queryPage, error) {
	if err := checkJSON(body); err != nil {
		return queryPage{}, err
	}
	p := queryPage{body: body}
	if !gjson.ParseBytes(body).IsObject() {
		return queryPage{}, fmt.Errorf("%w: the query answer is not an object", ErrResponse)
	}
	res := gjson.GetManyBytes(body, "records", "done", "nextRecordsUrl", "totalSize")
	p.records = res[0]
	if !p.records.IsArray() {
		return queryPage{}, fmt.Errorf("%w: the query answer has no records array", ErrResponse)
	}
	switch res[1].Type {
	case gjson.True:
		p.done = true
	case gjson.False:
	default:
		return queryPage{}, fmt.Errorf("%w: the query answer has no done flag", ErrResponse)
	}
	if !p.done {
		if res[2].Type != gjson.String || strings.TrimSpace(res[2].Str) == "" {
			return queryPage{}, fmt.Errorf("%w: done is false but there is no nextRecordsUrl", ErrResponse)
		}
		p.next = strings.TrimSpace(res[2].Str)
	}
	p.total = res[3].Int()
	return p, nil
}

// each calls fn with every record's JSON, in order. The slices alias the
// body (never reused), capped so an append cannot write into the next one.
func (p *queryPage) each(fn func(raw []byte) error) (int, error) {
	n := 0
	var err error
	p.records.ForEach(func(_, v gjson.Result) bool {
		if err = fn(slice(p.body, v)); err != nil {
			return false
		}
		n++
		return true
	})
	return n, err
}

// slice returns v's bytes in body, or a copy when they are not there.
func slice(body []byte, v gjson.Result) []byte {
	i, n := v.Index, len(v.Raw)
	if n > 0 && i >= 0 && i+n <= len(body) && string(body[i:i+n]) == v.Raw {
		return body[i : i+n : i+n]
	}
	return []byte(v.Raw)
}

// deletion is one entry of getDeleted's deletedRecords.
type deletion struct {
	id   string
	at   time.Time
	raw  []byte
	date string // deletedDate as sent
}

// deletedPage is a getDeleted answer:
//
//	{"deletedRecords": [{"id": "…", "deletedDate": "2013-05-07T22:07:19.000+0000"}],
//	 "earliestDateAvailable": "…", "latestDateCovered": "…"}
type deletedPage struct {
	records           []deletion
	latestCovered     time.Time // zero when absent
	earliestAvailable time.Time // zero when absent
}

func parseDeleted(body []byte) (deletedPage, error) {
	if err := checkJSON(body); err != nil {
		return deletedPage{}, err
	}
	var out deletedPage
	res := gjson.GetManyBytes(body, "deletedRecords", "latestDateCovered", "earliestDateAvailable")
	switch {
	case res[0].IsArray():
	case res[0].Type == gjson.Null && gjson.ParseBytes(body).IsObject():
		// null for none, as some of Salesforce's XML-to-JSON answers have it
	default:
		return deletedPage{}, fmt.Errorf("%w: the getDeleted answer has no deletedRecords array", ErrResponse)
	}
	var err error
	res[0].ForEach(func(_, v gjson.Result) bool {
		id, date := v.Get("id"), v.Get("deletedDate")
		if id.Type != gjson.String || id.Str == "" {
			err = fmt.Errorf("%w: a deleted record has no id: %s", ErrResponse, vendorio.Clip(v.Raw, 120))
			return false
		}
		at, perr := ParseTime(date.String())
		if date.Type != gjson.String || perr != nil {
			err = fmt.Errorf("%w: deleted record %s has no readable deletedDate: %s", ErrResponse, vendorio.Clip(id.Str, 40), vendorio.Clip(v.Raw, 120))
			return false
		}
		out.records = append(out.records, deletion{id: id.Str, at: at, raw: slice(body, v), date: date.Str})
		return true
	})
	if err != nil {
		return deletedPage{}, err
	}
	if t, err := ParseTime(res[1].String()); err == nil {
		out.latestCovered = t
	}
	if t, err := ParseTime(res[2].String()); err == nil {
		out.earliestAvailable = t
	}
	return out, nil
}

// TimeFormat is how Salesforce writes date-times in its JSON:
// 2013-05-20T20:49:32.000+0000 (milliseconds, a zone without a colon).
const TimeFormat = "2006-01-02T15:04:05.000-0700"

// ParseTime reads a Salesforce date-time (TimeFormat) or RFC 3339, in UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02T15:04:05.999999999Z0700", s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return time.Time{}, err
		}
	}
	return t.UTC(), nil
}

// apiError is one entry of Salesforce's error array.
type apiError struct {
	Code    string
	Message string
}

// parseErrors reads an error answer: the REST API's array
// [{"message": "…", "errorCode": "…", "fields": […]}], a single such
// object, or the OAuth endpoint's {"error": "…", "error_description": "…"}.
// It returns nil for anything else.
func parseErrors(body []byte) []apiError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || !vendorio.DepthWithin(body, 64) || !gjson.ValidBytes(body) {
		return nil
	}
	one := func(v gjson.Result) (apiError, bool) {
		if !v.IsObject() {
			return apiError{}, false
		}
		e := apiError{Code: v.Get("errorCode").String(), Message: v.Get("message").String()}
		if e.Code == "" && e.Message == "" {
			e = apiError{Code: v.Get("error").String(), Message: v.Get("error_description").String()}
		}
		return e, e.Code != "" || e.Message != ""
	}
	doc := gjson.ParseBytes(body)
	var out []apiError
	if doc.IsArray() {
		doc.ForEach(func(_, v gjson.Result) bool {
			if e, ok := one(v); ok {
				out = append(out, e)
			}
			return len(out) < 10
		})
		return out
	}
	if e, ok := one(doc); ok {
		return []apiError{e}
	}
	return nil
}

// hasCode reports whether errs carry code.
func hasCode(errs []apiError, code string) bool {
	for _, e := range errs {
		if e.Code == code {
			return true
		}
	}
	return false
}

// errorsMessage renders errs for a VendorError: "CODE: message; …", or a
// clip of the body when it was no error array.
func errorsMessage(errs []apiError, body []byte) string {
	if len(errs) == 0 {
		s := strings.TrimSpace(string(body))
		if s == "" {
			return "empty body"
		}
		return vendorio.Clip(oneLine(s), 200)
	}
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		switch {
		case e.Code == "":
			parts = append(parts, vendorio.Clip(oneLine(e.Message), 300))
		case e.Message == "":
			parts = append(parts, e.Code)
		default:
			parts = append(parts, e.Code+": "+vendorio.Clip(oneLine(e.Message), 300))
		}
	}
	return strings.Join(parts, "; ")
}

// usage is a Sforce-Limit-Info reading: api-usage=used/max.
type usage struct {
	used, max int64
}

// parseLimitInfo reads the api-usage part of Sforce-Limit-Info, e.g.
// "api-usage=18/5000" or "api-usage=10018/100000; api-bursts=1/750".
func parseLimitInfo(v string) (usage, bool) {
	for part := range strings.SplitSeq(v, ";") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "api-usage") {
			continue
		}
		a, b, ok := strings.Cut(strings.TrimSpace(val), "/")
		if !ok {
			return usage{}, false
		}
		used, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		limit, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
		if err1 != nil || err2 != nil || used < 0 || limit <= 0 {
			return usage{}, false
		}
		return usage{used: used, max: limit}, true
	}
	return usage{}, false
}

// checkJSON reports why body is not one JSON value.
func checkJSON(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%w: empty body", ErrResponse)
	}
	if !vendorio.DepthWithin(body, vendorio.MaxDepth) {
		return fmt.Errorf("%w: JSON nested more than %d deep", ErrResponse, vendorio.MaxDepth)
	}
	if !gjson.ValidBytes(body) {
		return fmt.Errorf("%w: invalid JSON, starting %q", ErrResponse, vendorio.Clip(oneLine(string(body)), 60))
	}
	return nil
}

// oneLine joins the words of s with single spaces. It is not
// vendorio.OneLine, which keeps runs of spaces and replaces invalid UTF-8:
// Salesforce messages fold white space this way.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
