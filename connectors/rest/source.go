package rest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
)

// Limits of one poll. They protect the engine from vendors (or
// configurations) that never stop paging or answer without bound.
const (
	// MaxBodySize is the largest page body read; a larger one fails the poll.
	MaxBodySize = 64 << 20
	// MaxPages is how many pages one poll follows before it gives up on a
	// pagination that does not end.
	MaxPages = 100_000
	// MaxRateLimitRetries is how many times a page refused with 429 (or 503
	// with Retry-After) is asked again after waiting.
	MaxRateLimitRetries = 3
	// MaxRetryWait is the longest Retry-After a poll waits out itself; a
	// longer one is left to the engine's schedule (ErrRateLimited).
	MaxRetryWait = 30 * time.Second
)

// Source is the rest connector's vendor logic: it follows the pagination an
// instance declares and emits every record of the window. It holds no state
// and is safe for concurrent use.
type Source struct {
	// paginations memoizes ParsePagination by the poller's raw pagination
	// object: a Pagination is read-only once parsed, and every poll of
	// every poller would otherwise decode the same JSON again. Bounded by
	// maxPaginations distinct objects.
	paginations sync.Map // string → Pagination
	cached      atomic.Int64
}

const maxPaginations = 4096

// pagination is ParsePagination, memoized.
func (s *Source) pagination(raw string) (Pagination, error) {
	if pg, ok := s.paginations.Load(raw); ok {
		return pg.(Pagination), nil
	}
	pg, err := ParsePagination(raw)
	if err == nil && s.cached.Add(1) <= maxPaginations {
		s.paginations.Store(raw, pg)
	}
	return pg, err
}

var _ source.Source = (*Source)(nil)

// New returns the rest connector's Source.
func New() *Source { return &Source{} }

// Poll fetches every page of the poller's URL, expanded for req.Since, and
// emits the records in the vendor's order. Errors from emit are returned as
// they are.
func (s *Source) Poll(ctx context.Context, req *source.Request, emit func(source.Record) error) error {
	p, err := newPoll(req, s.pagination)
	if err != nil {
		return err
	}
	return p.run(ctx, emit)
}

// poll is one run of Poll: the request's configuration resolved once.
type poll struct {
	client      *http.Client
	base        *url.URL // base.url, the origin credentials may be sent to
	first       *url.URL // base.url + the expanded poller URL
	pg          Pagination
	recordsPath string
	pageSize    int
	// authName and authValue are the one header every auth type comes down
	// to, the value ready for http.Header.
	authName  string
	authValue []string
}

var (
	acceptJSON = []string{"application/json"}
	userAgent  = []string{"pollwire"}
)

func newPoll(req *source.Request, parsePagination func(string) (Pagination, error)) (*poll, error) {
	if req.Settings == nil || req.Poller == nil || req.Poller.URL == nil {
		return nil, errors.New("rest: request without settings or poller URL")
	}
	res := req.Poller.Resource
	pg, err := parsePagination(req.Poller.Extra[FieldPagination])
	if err != nil {
		return nil, fmt.Errorf("rest: resource %s: pagination: %w", res, err)
	}
	base, err := url.Parse(req.Settings.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("rest: base.url %q is not an absolute URL", req.Settings.BaseURL)
	}
	loc := req.ServerLocation
	if loc == nil {
		loc = time.UTC
	}
	path := req.Poller.URL.Expand(req.Since, loc)
	first, err := url.Parse(strings.TrimRight(req.Settings.BaseURL, "/") + path)
	if err != nil {
		return nil, fmt.Errorf("rest: resource %s: url %q: %w", res, path, err)
	}
	p := &poll{
		client:      req.Client,
		base:        base,
		first:       first,
		pg:          pg,
		recordsPath: req.Poller.Extra[FieldRecordsPath],
		pageSize:    req.Poller.PageSize,
	}
	if p.client == nil {
		p.client = http.DefaultClient
	}
	if err := p.setAuth(req); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *poll) setAuth(req *source.Request) error {
	value := func(key string) string {
		if req.Instance == nil {
			return ""
		}
		v, _ := req.Instance.Value(key)
		return v
	}
	switch t := value(KeyAuthType); t {
	case "", AuthNone:
	case AuthBasic:
		p.authName = "Authorization"
		p.authValue = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(value(KeyUsername)+":"+value(KeyPassword)))}
	case AuthBearer:
		p.authName = "Authorization"
		p.authValue = []string{"Bearer " + value(KeyBearerToken)}
	case AuthHeader:
		p.authName = http.CanonicalHeaderKey(strings.TrimSpace(value(KeyHeaderName)))
		p.authValue = []string{value(KeyHeaderValue)}
		if p.authName == "" {
			return fmt.Errorf("rest: %s is required for authentication.type header", KeyHeaderName)
		}
	default:
		return fmt.Errorf("rest: authentication.type %q is not one of none, basic, bearer, header", t)
	}
	return nil
}

func (p *poll) run(ctx context.Context, emit func(source.Record) error) error {
	var (
		offset int
		pageNo int
		cursor string
		next   = p.first // the type next's page to fetch
		// seen holds the cursors or next URLs already followed: one coming
		// back means the vendor is paging in a circle.
		seen map[string]struct{}
	)
	if p.pg.FirstPage != nil {
		pageNo = *p.pg.FirstPage
	}
	each := func(raw []byte) error { return emit(source.Record{Raw: raw}) }

	for pages := 1; ; pages++ {
		target := p.target(pages, offset, pageNo, cursor, next)
		resp, err := p.fetch(ctx, target)
		if err != nil {
			return err
		}
		pg, err := parsePage(resp.body, p.recordsPath, &p.pg)
		if err != nil {
			return p.vendorError(target, resp.status, err.Error())
		}
		n, err := pg.each(each)
		if err != nil {
			return err
		}

		var more bool
		switch p.pg.Type {
		case PageNone:
			return nil
		case PageOffset:
			if more = p.more(&pg, n); more && n == 0 {
				return p.vendorError(target, resp.status, fmt.Sprintf("pagination does not advance: %s=%d returned no records but %s is true", p.pg.OffsetParam, offset, p.pg.HasMorePath))
			}
			offset += n
		case PagePage:
			more = p.more(&pg, n)
			pageNo++
		case PageCursor:
			if more = pg.cursor != "" && (p.pg.HasMorePath == "" || pg.hasMore); more {
				if !firstVisit(&seen, pg.cursor) {
					return p.vendorError(target, resp.status, fmt.Sprintf("pagination does not advance: cursor %q came back twice", vendorio.Clip(pg.cursor, 100)))
				}
				cursor = pg.cursor
			}
		case PageNext:
			link := pg.next
			if p.pg.NextPath == "" {
				link = linkNext(resp.header["Link"])
			}
			if more = link != ""; more {
				if next, err = p.resolveNext(target, link); err != nil {
					return p.vendorError(target, resp.status, err.Error())
				}
				if !firstVisit(&seen, next.String()) {
					return p.vendorError(target, resp.status, fmt.Sprintf("pagination does not advance: next page %s came back twice", redact(next)))
				}
			}
		}
		if !more {
			return nil
		}
		if pages >= MaxPages {
			return p.vendorError(target, resp.status, fmt.Sprintf("pagination did not end after %d pages", MaxPages))
		}
	}
}

// more applies the has-more rule of offset and page paging: the vendor's
// flag when the instance names one, else whether the page came back full
// (or, with no page size to compare with, non-empty).
func (p *poll) more(pg *page, n int) bool {
	switch {
	case p.pg.HasMorePath != "":
		return pg.hasMore
	case p.pageSize > 0:
		return n >= p.pageSize
	default:
		return n > 0
	}
}

// target is the URL of the pages-th page.
func (p *poll) target(pages, offset, pageNo int, cursor string, next *url.URL) *url.URL {
	var limit string
	if p.pageSize > 0 {
		limit = strconv.Itoa(p.pageSize)
	}
	switch p.pg.Type {
	case PageOffset:
		return withQuery(p.first, p.pg.OffsetParam, strconv.Itoa(offset), p.pg.LimitParam, limit)
	case PagePage:
		return withQuery(p.first, p.pg.PageParam, strconv.Itoa(pageNo), p.pg.LimitParam, limit)
	case PageCursor:
		return withQuery(p.first, p.pg.CursorParam, cursor, p.pg.LimitParam, limit)
	case PageNext:
		if pages == 1 {
			return withQuery(p.first, p.pg.LimitParam, limit)
		}
		return next // the vendor's next URL is followed as given
	}
	return p.first
}

// withQuery returns u with the name/value pairs set in its query. Pairs
// with an empty value are left out. The rest of the query is kept byte for
// byte: re-encoding it (url.Values.Encode) would reorder and re-escape the
// vendor query the user wrote, which some APIs are picky about.
func withQuery(u *url.URL, kv ...string) *url.URL {
	c := *u
	var b strings.Builder
	b.Grow(len(u.RawQuery) + 32)
	for part := range strings.SplitSeq(u.RawQuery, "&") {
		if part == "" {
			continue
		}
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil && setsKey(kv, k) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	c.RawQuery = b.String()
	return &c
}

func setsKey(kv []string, key string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == key && kv[i+1] != "" {
			return true
		}
	}
	return false
}

// firstVisit records key in *seen and reports whether it is new there.
func firstVisit(seen *map[string]struct{}, key string) bool {
	if *seen == nil {
		*seen = make(map[string]struct{})
	}
	if _, ok := (*seen)[key]; ok {
		return false
	}
	(*seen)[key] = struct{}{}
	return true
}

// resolveNext turns a next-page reference into the URL to fetch. Absolute
// URLs are taken as they are; a body's "/path" is relative to base.url (or
// to its host, when it already starts with base.url's path); anything else
// resolves against the current page as RFC 3986 says. The result must stay
// on base.url's origin: credentials go with every page, and a vendor
// answer must not be able to send them elsewhere.
func (p *poll) resolveNext(current *url.URL, ref string) (*url.URL, error) {
	ref = strings.TrimSpace(ref)
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("next page %q is not a valid URL", vendorio.Clip(ref, 200))
	}
	var u *url.URL
	switch {
	case r.IsAbs():
		u = r
	case p.pg.NextPath != "" && strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, "//") && !underPath(ref, p.base.Path):
		if u, err = url.Parse(strings.TrimRight(p.base.String(), "/") + ref); err != nil {
			return nil, fmt.Errorf("next page %q is not a valid URL", vendorio.Clip(ref, 200))
		}
	default:
		u = current.ResolveReference(r)
	}
	if !strings.EqualFold(u.Scheme, p.base.Scheme) || !strings.EqualFold(u.Host, p.base.Host) {
		return nil, fmt.Errorf("next page %s is not on base.url's origin %s://%s; credentials are only sent there", redact(u), p.base.Scheme, p.base.Host)
	}
	return u, nil
}

// underPath reports whether ref already starts with base.url's path prefix,
// as vendors that return host-relative next links do.
func underPath(ref, prefix string) bool {
	prefix = strings.TrimRight(prefix, "/")
	if prefix == "" || !strings.HasPrefix(ref, prefix) {
		return false
	}
	rest := ref[len(prefix):]
	return rest == "" || rest[0] == '/' || rest[0] == '?'
}

// response is a page as read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// fetch GETs target, waiting out the vendor's Retry-After on 429 (and 503
// with Retry-After) when the wait is short.
func (p *poll) fetch(ctx context.Context, target *url.URL) (*response, error) {
	for retries := 0; ; retries++ {
		resp, err := p.do(ctx, target)
		if err != nil {
			return nil, err
		}
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		ve := p.vendorError(target, resp.status, vendorMessage(resp.body))
		ra := resp.header.Get("Retry-After")
		wait, hasWait := vendorio.ParseRetryAfter(ra, time.Now())
		ve.RetryAfter = wait
		if resp.status != http.StatusTooManyRequests && (resp.status != http.StatusServiceUnavailable || !hasWait) {
			return nil, ve
		}
		if !hasWait || retries >= MaxRateLimitRetries || wait > MaxRetryWait || !vendorio.FitsDeadline(ctx, wait) {
			if retries > 0 {
				return nil, fmt.Errorf("%w (%w after %d retries)", ve, source.ErrRateLimited, retries)
			}
			return nil, fmt.Errorf("%w (%w)", ve, source.ErrRateLimited)
		}
		if err := vendorio.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("GET %s: waiting %s for the vendor's Retry-After: %w", redact(target), wait, err)
		}
	}
}

// do makes one GET and reads its body: a 2xx body up to MaxBodySize, an
// error body up to vendorio.ErrorBodyLimit.
func (p *poll) do(ctx context.Context, target *url.URL) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, p.vendorError(target, 0, err.Error())
	}
	// The value slices are shared between requests: transports only read
	// them, and sharing saves three allocations a page.
	req.Header["Accept"] = acceptJSON
	req.Header["User-Agent"] = userAgent
	if p.authName != "" {
		req.Header[p.authName] = p.authValue
	}
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, p.transportError(ctx, target, err, time.Since(start))
	}
	defer vendorio.DrainClose(resp.Body)

	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	limit := int64(vendorio.ErrorBodyLimit)
	if ok {
		limit = MaxBodySize
	}
	cl := resp.ContentLength
	if !ok && cl > limit {
		cl = -1 // an error body is read in part for its message
	}
	body, complete, err := readBody(resp.Body, cl, limit)
	switch {
	case err != nil:
		return nil, p.transportError(ctx, target, err, time.Since(start))
	case !complete && ok:
		return nil, p.vendorError(target, resp.StatusCode, fmt.Sprintf("response body larger than %d MiB", MaxBodySize>>20))
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// readBody reads r up to limit bytes into a buffer of its own: the records
// emitted alias it, so it is never reused. complete is false when the body
// is longer than limit.
// Unlike vendorio.ReadBody it sizes the buffer from Content-Length and
// refuses a declared length over limit without reading: polling reads whole
// pages, where the allocations count.
func readBody(r io.Reader, contentLength, limit int64) (body []byte, complete bool, err error) {
	if contentLength > limit {
		return nil, false, nil
	}
	size := int64(4 << 10)
	if contentLength >= 0 {
		size = contentLength + 1 // +1 so the final read sees EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf[:limit], false, nil
		}
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// transportError describes a call that got no (complete) answer. A canceled
// poll is not the vendor's fault and keeps context.Canceled visible.
func (p *poll) transportError(ctx context.Context, target *url.URL, err error, elapsed time.Duration) error {
	if ctx.Err() == context.Canceled {
		return fmt.Errorf("GET %s: %w", redact(target), context.Canceled)
	}
	// vendorio.TransportMessage leaves out the URL a *url.Error repeats,
	// which may carry secrets and is in the VendorError already, redacted.
	return p.vendorError(target, 0, vendorio.TransportMessage(err, elapsed, p.client.Timeout))
}

func (p *poll) vendorError(target *url.URL, status int, msg string) *source.VendorError {
	return &source.VendorError{Status: status, Method: http.MethodGet, URL: redact(target), Message: msg}
}

// vendorMessage finds the vendor's own explanation in an error body, else
// returns a short excerpt of it.
func vendorMessage(body []byte) string {
	if len(body) > 0 && vendorio.ValidJSON(body, vendorio.MaxDepth) {
		if msg, ok := vendorio.MessageAt(body, "message", "error", "error.message", "errors.0.message", "error_description", "detail", "title"); ok {
			return msg
		}
	}
	return vendorio.Excerpt(body)
}

// sensitiveParams are fragments of query parameter names whose values are
// masked in error messages: poller URLs sometimes carry API keys.
var sensitiveParams = []string{"key", "token", "secret", "pass", "sig", "auth", "credential"}

// redact returns u for messages: without user info and with the values of
// secret-looking query parameters masked.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		var b strings.Builder
		for part := range strings.SplitSeq(c.RawQuery, "&") {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			key, _, hasValue := strings.Cut(part, "=")
			if hasValue && isSensitive(key) {
				b.WriteString(key)
				b.WriteString("=REDACTED")
				continue
			}
			b.WriteString(part)
		}
		c.RawQuery = b.String()
	}
	return c.String()
}

func isSensitive(key string) bool {
	if k, err := url.QueryUnescape(key); err == nil {
		key = k
	}
	key = strings.ToLower(key)
	for _, s := range sensitiveParams {
		if strings.Contains(key, s) {
			return true
		}
	}
	return false
}

// linkNext returns the target of the rel="next" link in Link header
// values (RFC 8288), or "".
func linkNext(values []string) string {
	for _, v := range values {
		for {
			v = strings.TrimLeft(v, " \t,")
			if !strings.HasPrefix(v, "<") {
				break // nothing more we can read in this value
			}
			end := strings.IndexByte(v, '>')
			if end < 0 {
				break
			}
			target := v[1:end]
			params, rest := cutLinkParams(v[end+1:])
			if relIsNext(params) {
				return strings.TrimSpace(target)
			}
			v = rest
		}
	}
	return ""
}

// cutLinkParams splits a link's parameters from the links after it, at the
// first comma outside a quoted string.
func cutLinkParams(s string) (params, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

func relIsNext(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		name, value, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
			continue
		}
		for rel := range strings.FieldsSeq(strings.Trim(strings.TrimSpace(value), `"`)) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}
