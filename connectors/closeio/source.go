package closeio

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// Limits of one poll.
const (
	// MaxBodySize is the largest page body read; a larger one fails the poll.
	MaxBodySize = 64 << 20
	// MaxPages is how many pages one poll follows before giving up on a
	// pagination that does not end.
	MaxPages = 100_000
	// MaxRateLimitRetries is how many times a page refused with 429 (or 503
	// with Retry-After) is asked again after waiting.
	MaxRateLimitRetries = 3
	// MaxRetryWait is the longest Retry-After a poll waits out itself; a
	// longer one is left to the engine's schedule (source.ErrRateLimited).
	MaxRetryWait = 30 * time.Second
)

// Source is the Close connector's vendor logic. One Source serves every
// Close instance: it holds the rate-limit state of each (base URL, API key,
// endpoint group), so that instances sharing a key share its budget. It also
// takes Close's webhooks (source.Webhook) and subscribes to them
// (source.Subscriber); see webhook.go. It is safe for concurrent use.
type Source struct {
	// MaxLimit is the largest page size asked for (a poller's pageSize is
	// capped to it); default DefaultMaxLimit.
	MaxLimit int
	// MaxSkip is the deepest _skip Close allows; default DefaultMaxSkip.
	// Set them before the first Poll.
	MaxSkip int

	limits limiters
}

var _ source.Source = (*Source)(nil)

// New returns the Close connector's Source.
func New() *Source { return &Source{MaxLimit: DefaultMaxLimit, MaxSkip: DefaultMaxSkip} }

// Poll reads the window's changed records of a poller and then the
// deletions Close's event log holds for the same window.
//
// A /hubs/crm/{resource} poller is translated (Translate); its window
// starts at the earlier of the where's lower bound and req.Since. Any other
// poller URL is sent as written, relative to base.url, and paged with
// _skip/_limit/has_more, its records under "data"; it reports no
// deletions, since its object type is unknown.
func (s *Source) Poll(ctx context.Context, req *source.Request, emit func(source.Record) error) error {
	p, err := s.newPoll(req)
	if err != nil {
		return err
	}
	loc := req.ServerLocation
	if loc == nil {
		loc = time.UTC
	}
	path := req.Poller.URL.Expand(req.Since, loc)
	if req.Poller.HubResource == "" {
		return p.asWritten(ctx, path, emit)
	}
	where := ""
	if _, rawQuery, ok := strings.Cut(path, "?"); ok {
		vals, err := url.ParseQuery(rawQuery)
		if err != nil {
			return fmt.Errorf("closeio: resource %s: query string: %w", req.Poller.Resource, err)
		}
		where = vals.Get("where")
	}
	q, err := Translate(req.Poller.HubResource, where)
	if err != nil {
		return fmt.Errorf("closeio: resource %s: %w", req.Poller.Resource, err)
	}
	from := req.Since
	if !q.From.IsZero() && q.From.Before(from) {
		from = q.From
	}
	q = q.withFields(req.Poller.IDField, req.Poller.Updated.Field, req.Poller.Created.Field)
	if q.Method == http.MethodPost {
		err = p.search(ctx, q, from, emit)
	} else {
		err = p.list(ctx, q, from, emit)
	}
	if err != nil {
		return err
	}
	for _, t := range q.DeletedTypes {
		if err := p.deletions(ctx, t, req.Since, emit); err != nil {
			return err
		}
	}
	return nil
}

// poll is one run of Poll with the request's configuration resolved; the
// webhook subscription calls use one too, for its client, auth and limiter.
type poll struct {
	src     *Source
	client  *http.Client
	base    string // base.url without a trailing slash
	auth    []string
	apiKey  string
	limit   int
	maxSkip int
	idField string
}

var (
	acceptJSON  = []string{"application/json"}
	contentJSON = []string{"application/json"}
	userAgent   = []string{"pollwire"}
	// utcOffset makes Close read dates without an offset as UTC.
	utcOffset = []string{"0"}
)

func (s *Source) newPoll(req *source.Request) (*poll, error) {
	if req.Settings == nil || req.Poller == nil || req.Poller.URL == nil {
		return nil, errors.New("closeio: request without settings or poller URL")
	}
	p, err := s.newAPI(req.Settings, req.Instance, req.Client)
	if err != nil {
		return nil, err
	}
	maxLimit := s.MaxLimit
	if maxLimit <= 0 {
		maxLimit = DefaultMaxLimit
	}
	p.limit = req.Poller.PageSize
	if p.limit <= 0 || p.limit > maxLimit {
		p.limit = maxLimit
	}
	p.maxSkip = s.MaxSkip
	if p.maxSkip <= 0 {
		p.maxSkip = DefaultMaxSkip
	}
	if req.Poller.IDField != "" {
		p.idField = req.Poller.IDField
	}
	return p, nil
}

// newAPI resolves what every call to Close needs — base URL, Basic auth,
// HTTP client — for a poll or a webhook subscription call, which share the
// rate limiters of their API key.
func (s *Source) newAPI(settings *instances.Settings, inst *instances.Instance, client *http.Client) (*poll, error) {
	base := ""
	if settings != nil {
		base = strings.TrimRight(settings.BaseURL, "/")
	}
	if base == "" {
		base = DefaultBaseURL
	}
	if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("closeio: base.url %q is not an absolute URL", base)
	}
	var user, pass string
	if inst != nil {
		user, _ = inst.Value("username")
		pass, _ = inst.Value("password")
	}
	if user == "" {
		return nil, errors.New("closeio: the instance has no API key (username)")
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &poll{
		src: s, client: client, base: base, apiKey: user, limit: DefaultMaxLimit, maxSkip: DefaultMaxSkip,
		auth:    []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))},
		idField: "id",
	}, nil
}

// list pages through a GET list, sorted ascending by the window's date
// field, from `from`.
//
// Offsets alone lose records: when a record already read is updated (it
// moves to the end of the order) or deleted while the poll pages on, every
// record after it shifts back one place and one is never seen. So each page
// restarts the window at the date of the last record read (Close's own
// advice for deep paging) and skips only the records of that date already
// read — less one, which is asked again: if it is not the first record of
// the new page, the records of that date moved, and the page is asked again
// from their start. Re-reading costs calls, never events: the engine drops
// what it has reported. This also keeps _skip far from Close's maximum,
// unless more than MaxSkip records share one date (at the vendor's
// precision: the minute for leads, the second otherwise).
func (p *poll) list(ctx context.Context, q *Query, from time.Time, emit func(source.Record) error) error {
	var (
		bound     = from // the window's lower bound, as sent (rounded)
		skip      int
		expect    string    // id the page must start with ("" when none)
		tailDate  time.Time // rounded date of the last record read
		tailCount int       // records read with that rounded date
		lastID    string
		plain     bool // records without a readable date: plain offsets
		retries   int  // pages asked again in a row
	)
	for pages := 1; ; pages++ {
		if pages > MaxPages {
			return p.vendorError(http.MethodGet, q.Path, 0, fmt.Sprintf("pagination did not end after %d pages", MaxPages))
		}
		w := q
		if !bound.IsZero() {
			w = q.window(bound)
		}
		params := cloneValues(w.Params)
		params.Set("_skip", strconv.Itoa(skip))
		params.Set("_limit", strconv.Itoa(p.limit))
		target := q.Path + "?" + params.Encode()
		resp, err := p.fetch(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		pg, err := parsePage(resp.body, "data", "has_more")
		if err != nil {
			return p.vendorError(http.MethodGet, target, resp.status, err.Error())
		}
		recs := pg.records
		if expect != "" {
			if len(recs) == 0 || gjson.GetBytes(recs[0], p.idField).String() != expect {
				// The records at the boundary date moved: read them all again.
				if retries++; retries > 5 {
					return p.vendorError(http.MethodGet, target, resp.status, "the records at the page boundary keep changing while paging")
				}
				skip, expect = 0, ""
				tailCount = 0
				continue
			}
			recs = recs[1:]
		}
		retries = 0
		for _, raw := range recs {
			lastID = gjson.GetBytes(raw, p.idField).String()
			d, ok := recordDate(raw, q.DateField)
			if !ok || q.before(d) {
				if err := emit(source.Record{Raw: raw}); err != nil {
					return err
				}
			}
			if !ok {
				plain = true
				continue
			}
			if d = q.floor(d); d.Equal(tailDate) {
				tailCount++
			} else {
				tailDate, tailCount = d, 1
			}
		}
		if !pg.hasMore {
			return nil
		}
		if len(recs) == 0 {
			return p.vendorError(http.MethodGet, target, resp.status, fmt.Sprintf("pagination does not advance: _skip=%d returned no new records but has_more is true", skip))
		}
		switch {
		case plain:
			skip += len(pg.records)
			expect = ""
		case p.limit > 1 && lastID != "":
			bound, skip, expect = tailDate, tailCount-1, lastID
		default:
			bound, skip, expect = tailDate, tailCount, ""
		}
		if skip > p.maxSkip {
			return p.vendorError(http.MethodGet, target, resp.status, fmt.Sprintf(
				"more than %d records share %s %s (Close's deepest _skip is %d); they cannot be paged",
				skip, q.DateField, tailDate.Format(time.RFC3339), p.maxSkip))
		}
	}
}

// before reports whether d is before the where's upper bound, if any. Close
// compares to its precision, rounded up so that nothing is missed: what it
// returns beyond the bound is dropped here.
func (q *Query) before(d time.Time) bool { return q.To.IsZero() || d.Before(q.To) }

// recordDate reads a record's date field in Close's format.
func recordDate(raw []byte, field string) (time.Time, bool) {
	v := gjson.GetBytes(raw, field)
	if v.Type != gjson.String {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v.Str)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// search pages through the Advanced Filtering API with its cursor.
func (p *poll) search(ctx context.Context, q *Query, from time.Time, emit func(source.Record) error) error {
	w := q
	if !from.IsZero() {
		w = q.window(from)
	}
	body := cloneJSON(w.Body).(map[string]any)
	body["_limit"] = p.limit
	var seen map[string]bool
	for pages := 1; ; pages++ {
		if pages > MaxPages {
			return p.vendorError(http.MethodPost, q.Path, 0, fmt.Sprintf("pagination did not end after %d pages", MaxPages))
		}
		payload, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("closeio: search body: %w", err)
		}
		resp, err := p.fetch(ctx, http.MethodPost, q.Path, payload)
		if err != nil {
			return err
		}
		pg, err := parsePage(resp.body, "data", "")
		if err != nil {
			return p.vendorError(http.MethodPost, q.Path, resp.status, err.Error())
		}
		for _, raw := range pg.records {
			if d, ok := recordDate(raw, q.DateField); ok && !q.before(d) {
				continue
			}
			if err := emit(source.Record{Raw: raw}); err != nil {
				return err
			}
		}
		cursor := scalar(gjson.GetBytes(resp.body, "cursor"))
		if cursor == "" {
			return nil
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		if seen[cursor] {
			return p.vendorError(http.MethodPost, q.Path, resp.status, fmt.Sprintf("pagination does not advance: cursor %q came back twice", vendorio.Clip(cursor, 100)))
		}
		seen[cursor] = true
		body["cursor"] = cursor
	}
}

// deletions reads the event log's "deleted" events of objectType, newest
// first, and emits those after since. The event log is read from since's
// second: what is at or before since was the previous windows' to report.
func (p *poll) deletions(ctx context.Context, objectType string, since time.Time, emit func(source.Record) error) error {
	params := url.Values{"object_type": {objectType}, "action": {"deleted"}, "_limit": {strconv.Itoa(EventMaxLimit)}}
	if !since.IsZero() {
		params.Set("date_updated__gte", since.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05"))
	}
	var seen map[string]bool
	for pages := 1; ; pages++ {
		if pages > MaxPages {
			return p.vendorError(http.MethodGet, "/event/", 0, fmt.Sprintf("pagination did not end after %d pages", MaxPages))
		}
		target := "/event/?" + params.Encode()
		resp, err := p.fetch(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		pg, err := parsePage(resp.body, "data", "")
		if err != nil {
			return p.vendorError(http.MethodGet, target, resp.status, err.Error())
		}
		for _, raw := range pg.records {
			rec, err := deletion(raw)
			if err != nil {
				return p.vendorError(http.MethodGet, target, resp.status, err.Error())
			}
			if !rec.DeletedAt.After(since) {
				continue
			}
			if err := emit(rec); err != nil {
				return err
			}
		}
		next := scalar(gjson.GetBytes(resp.body, "cursor_next"))
		if next == "" {
			return nil
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		if seen[next] {
			return p.vendorError(http.MethodGet, target, resp.status, fmt.Sprintf("pagination does not advance: cursor %q came back twice", vendorio.Clip(next, 100)))
		}
		seen[next] = true
		// Close wants the other filters again with the cursor, which
		// carries the date range itself.
		params.Set("_cursor", next)
	}
}

// deletion turns a "deleted" event into a deletion record.
func deletion(raw []byte) (source.Record, error) {
	id := gjson.GetBytes(raw, "object_id")
	if id.Type != gjson.String || id.Str == "" {
		return source.Record{}, fmt.Errorf("deleted event without object_id: %s", vendorio.Clip(vendorio.OneLine(string(raw)), 120))
	}
	d := gjson.GetBytes(raw, "date_updated")
	at, ok := parseEventTime(d.String())
	if d.Type != gjson.String || !ok {
		return source.Record{}, fmt.Errorf("deleted event %s: date_updated %q is not a date", id.Str, vendorio.Clip(d.String(), 60))
	}
	return source.Record{Raw: raw, Deleted: true, ID: id.Str, DeletedAt: at}, nil
}

// parseEventTime reads an event envelope's date: Close writes them without
// an offset, in UTC; one with an offset is read as such.
func parseEventTime(v string) (time.Time, bool) {
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", v, time.UTC); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// asWritten pages a poller URL that is not a hub resource: offset paging
// with _skip/_limit, records under "data", until has_more is false.
func (p *poll) asWritten(ctx context.Context, path string, emit func(source.Record) error) error {
	rel, rawQuery, _ := strings.Cut(path, "?")
	skip := 0
	for pages := 1; ; pages++ {
		if pages > MaxPages {
			return p.vendorError(http.MethodGet, path, 0, fmt.Sprintf("pagination did not end after %d pages", MaxPages))
		}
		target := rel + "?" + withPaging(rawQuery, skip, p.limit)
		resp, err := p.fetch(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		pg, err := parsePage(resp.body, "data", "has_more")
		if err != nil {
			return p.vendorError(http.MethodGet, target, resp.status, err.Error())
		}
		for _, raw := range pg.records {
			if err := emit(source.Record{Raw: raw}); err != nil {
				return err
			}
		}
		if !pg.hasMore {
			return nil
		}
		if len(pg.records) == 0 {
			return p.vendorError(http.MethodGet, target, resp.status, fmt.Sprintf("pagination does not advance: _skip=%d returned no records but has_more is true", skip))
		}
		skip += len(pg.records)
		if skip > p.maxSkip {
			return p.vendorError(http.MethodGet, target, resp.status, fmt.Sprintf(
				"the window holds more records than Close pages (_skip over %d); narrow the poller's query, or use /hubs/crm/…", p.maxSkip))
		}
	}
}

// withPaging sets _skip and _limit in a raw query, keeping the rest of it
// byte for byte: re-encoding would reorder and re-escape what the user
// wrote.
func withPaging(rawQuery string, skip, limit int) string {
	var b strings.Builder
	for part := range strings.SplitSeq(rawQuery, "&") {
		key, _, _ := strings.Cut(part, "=")
		if part == "" || key == "_skip" || key == "_limit" {
			continue
		}
		b.WriteString(part)
		b.WriteByte('&')
	}
	fmt.Fprintf(&b, "_skip=%d&_limit=%d", skip, limit)
	return b.String()
}

// response is an answer as read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// fetch makes one API call (target relative to base.url), paced by the
// endpoint group's limiter, and waits out a short Retry-After on 429 (and
// 503 with Retry-After) to ask again. Non-2xx answers are errors.
func (p *poll) fetch(ctx context.Context, method, target string, body []byte) (*response, error) {
	lim := p.src.limits.get(p.base, p.apiKey, endpointGroup(method, target))
	for retries := 0; ; retries++ {
		if err := lim.acquire(ctx); err != nil {
			if errors.Is(err, source.ErrRateLimited) {
				return nil, fmt.Errorf("closeio: %s %s: %w", method, p.base+target, err)
			}
			return nil, fmt.Errorf("closeio: %s %s: waiting for the rate limit: %w", method, p.base+target, err)
		}
		resp, err := p.do(ctx, method, target, body)
		if err != nil {
			lim.release(nil, 0, 0)
			return nil, err
		}
		wait, hasWait := parseRetryAfter(resp.header.Get("Retry-After"), time.Now())
		if resp.status == http.StatusTooManyRequests && !hasWait {
			// The pre-2024 body says how long instead.
			if f := gjson.GetBytes(resp.body, "error.rate_reset"); f.Type == gjson.Number {
				wait, hasWait = time.Duration(min(f.Float(), 86400)*float64(time.Second)), f.Float() >= 0
			}
		}
		lim.release(resp.header, resp.status, wait)
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		ve := p.vendorError(method, target, resp.status, closeMessage(resp.body))
		ve.RetryAfter = wait
		if resp.status != http.StatusTooManyRequests && (resp.status != http.StatusServiceUnavailable || !hasWait) {
			return nil, ve
		}
		if !hasWait || retries >= MaxRateLimitRetries || wait > MaxRetryWait || !vendorio.FitsDeadline(ctx, wait) {
			return nil, fmt.Errorf("%w (%w)", ve, source.ErrRateLimited)
		}
		if resp.status == http.StatusServiceUnavailable {
			// A 429 waits in acquire, with every other request of its
			// group; a 503 is about this call alone.
			if err := vendorio.Sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("closeio: %s %s: waiting %s for Retry-After: %w", method, p.base+target, wait, err)
			}
		}
	}
}

// do makes one call and reads its body: a 2xx body up to MaxBodySize, an
// error body up to vendorio.ErrorBodyLimit.
func (p *poll) do(ctx context.Context, method, target string, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+target, rd)
	if err != nil {
		return nil, p.vendorError(method, target, 0, err.Error())
	}
	req.Header["Accept"] = acceptJSON
	req.Header["User-Agent"] = userAgent
	req.Header["Authorization"] = p.auth
	req.Header["X-Tz-Offset"] = utcOffset
	if body != nil {
		req.Header["Content-Type"] = contentJSON
	}
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, p.transportError(ctx, method, target, err, time.Since(start))
	}
	defer vendorio.DrainClose(resp.Body)
	b, tooLarge, err := vendorio.ReadBody(resp, MaxBodySize)
	switch {
	case err != nil:
		return nil, p.transportError(ctx, method, target, err, time.Since(start))
	case tooLarge:
		return nil, p.vendorError(method, target, resp.StatusCode, fmt.Sprintf("response body larger than %d MiB", MaxBodySize>>20))
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// transportError describes a call that got no (complete) answer. A
// cancelled poll is not the vendor's fault and keeps context.Canceled
// visible.
func (p *poll) transportError(ctx context.Context, method, target string, err error, elapsed time.Duration) error {
	if ctx.Err() == context.Canceled {
		return fmt.Errorf("closeio: %s %s: %w", method, p.base+target, context.Canceled)
	}
	return p.vendorError(method, target, 0, vendorio.TransportMessage(err, elapsed, p.client.Timeout))
}

func (p *poll) vendorError(method, target string, status int, msg string) *source.VendorError {
	return &source.VendorError{Status: status, Method: method, URL: p.base + target, Message: msg}
}

// closeMessage finds Close's explanation in an error body: {"error": "…"},
// {"error": {"message": …}} (429), or {"errors": […], "field-errors":
// {field: message}} (400); else an excerpt of the body.
func closeMessage(body []byte) string {
	if len(body) > 0 && vendorio.ValidJSON(body, vendorio.MaxDepth) {
		if msg, ok := vendorio.MessageAt(body, "error", "error.message"); ok {
			return msg
		}
		var parts []string
		gjson.GetBytes(body, "errors").ForEach(func(_, v gjson.Result) bool {
			if s := strings.TrimSpace(v.String()); s != "" {
				parts = append(parts, s)
			}
			return len(parts) < 10
		})
		gjson.GetBytes(body, "field-errors").ForEach(func(k, v gjson.Result) bool {
			parts = append(parts, k.String()+": "+v.String())
			return len(parts) < 10
		})
		if len(parts) > 0 {
			return vendorio.Clip(vendorio.OneLine(strings.Join(parts, "; ")), 500)
		}
	}
	return vendorio.Excerpt(body)
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v)+2)
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}
