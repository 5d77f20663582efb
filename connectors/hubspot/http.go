package hubspot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
)

const (
	// MaxBodySize is the largest page body read; a larger one fails the poll.
	MaxBodySize = 64 << 20
)

// defaultClient is used when a request carries no client (tests, tools).
var defaultClient = &http.Client{Timeout: 60 * time.Second}

var (
	acceptJSON  = []string{"application/json"}
	contentJSON = []string{"application/json"}
	userAgent   = []string{"pollwire"}
)

// response is an answer as read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// call makes one API request, in the account's pace: it waits for the
// search limiter and for a spent rolling window, refreshes an OAuth token
// HubSpot refused (once), and sits out secondly and ten-secondly refusals
// (bounded). A spent daily limit is a *source.PausedError.
func (p *poll) call(ctx context.Context, method, path, rawQuery string, body []byte, search bool) (*response, error) {
	target := p.base + path
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	refreshed := false
	for throttled := 0; ; {
		if err := p.acct.acquire(ctx, search, p.s.now, p.s.sleep); err != nil {
			var pe *source.PausedError
			if errors.As(err, &pe) {
				return nil, pe
			}
			return nil, fmt.Errorf("%s %s: waiting for HubSpot's rate limits: %w", method, target, err)
		}
		token, err := p.token(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := p.do(ctx, method, target, body, token)
		if err != nil {
			return nil, err
		}
		now := p.s.now()
		p.acct.observe(resp.header, now, p.zone)
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		ve := p.vendorError(method, target, resp.status, vendorMessage(resp.body))
		switch resp.status {
		case http.StatusUnauthorized:
			// HubSpot says 401 is no sure sign of an expired token, but a
			// refresh is the one thing that can help: once per request.
			if p.ts != nil && !refreshed {
				p.ts.invalidate(token)
				refreshed = true
				continue
			}
		case http.StatusTooManyRequests:
			policy := gjson.GetBytes(resp.body, "policyName").String()
			if strings.EqualFold(policy, "DAILY") {
				return nil, p.acct.pauseDaily(now, p.zone, "HubSpot refused a request for the daily API limit (429 "+policy+")")
			}
			wait := retryWait(resp, policy, now)
			ve.RetryAfter = wait
			// Every poller of the account waits, not only this one.
			p.acct.block(now.Add(wait))
			if throttled >= MaxRateLimitRetries || wait > MaxRetryWait || !vendorio.FitsDeadline(ctx, wait) {
				if throttled > 0 {
					return nil, fmt.Errorf("%w (%w after %d retries)", ve, source.ErrRateLimited, throttled)
				}
				return nil, fmt.Errorf("%w (%w)", ve, source.ErrRateLimited)
			}
			throttled++
			continue // acquire sits out the block
		}
		return nil, ve
	}
}

// token returns the bearer token of the next request.
func (p *poll) token(ctx context.Context) (string, error) {
	if p.ts == nil {
		return p.bearer, nil
	}
	tok, err := p.ts.Token(ctx, p.client)
	if err != nil {
		return "", err
	}
	p.saveRotated(ctx)
	return tok, nil
}

// retryWait is how long to wait after a secondly or ten-secondly refusal:
// Retry-After when HubSpot sends one, else the rolling window's interval
// (ten-secondly) or one second (the search limit, which is per second).
func retryWait(resp *response, policy string, now time.Time) time.Duration {
	if d, ok := vendorio.ParseRetryAfter(resp.header.Get("Retry-After"), now); ok {
		return d
	}
	if strings.EqualFold(policy, "TEN_SECONDLY_ROLLING") {
		if ms, ok := headerInt(resp.header, headerInterval); ok && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
		return 10 * time.Second
	}
	return time.Second
}

// do makes one request and reads its body: a 2xx body up to MaxBodySize,
// an error body up to vendorio.ErrorBodyLimit.
func (p *poll) do(ctx context.Context, method, target string, body []byte, token string) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, p.vendorError(method, target, 0, err.Error())
	}
	req.Header["Accept"] = acceptJSON
	req.Header["User-Agent"] = userAgent
	if body != nil {
		req.Header["Content-Type"] = contentJSON
	}
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, p.transportError(ctx, method, target, err, time.Since(start))
	}
	defer vendorio.DrainClose(resp.Body)
	b, tooLarge, err := vendorio.ReadBody(resp, MaxBodySize)
	if err != nil {
		return nil, p.transportError(ctx, method, target, err, time.Since(start))
	}
	if tooLarge {
		return nil, p.vendorError(method, target, resp.StatusCode, fmt.Sprintf("response body larger than %d MiB", MaxBodySize>>20))
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// transportError describes a request that got no (complete) answer. A
// cancelled poll is not the vendor's fault and keeps context.Canceled
// visible.
func (p *poll) transportError(ctx context.Context, method, target string, err error, elapsed time.Duration) error {
	if ctx.Err() == context.Canceled {
		return fmt.Errorf("%s %s: %w", method, redact(target), context.Canceled)
	}
	return p.vendorError(method, target, 0, vendorio.TransportMessage(err, elapsed, p.client.Timeout))
}

func (p *poll) vendorError(method, target string, status int, msg string) *source.VendorError {
	if strings.HasPrefix(target, "/") {
		target = p.base + target
	}
	return &source.VendorError{Status: status, Method: method, URL: redact(target), Message: msg}
}

// redact drops the query of a URL for messages: HubSpot's API takes no
// credentials there, but a poller path written by hand might.
func redact(target string) string {
	if i := strings.IndexByte(target, '?'); i >= 0 {
		u, err := url.Parse(target)
		if err != nil {
			return target[:i]
		}
		q := u.Query()
		for k := range q {
			lk := strings.ToLower(k)
			for _, s := range []string{"key", "token", "secret", "pass", "auth"} {
				if strings.Contains(lk, s) {
					q.Set(k, "REDACTED")
				}
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	return target
}

// vendorMessage is HubSpot's explanation in an error body:
// {"status":"error","message":…,"category":…}, else an excerpt.
func vendorMessage(body []byte) string {
	if len(body) > 0 && vendorio.ValidJSON(body, maxDepth) {
		if out, ok := vendorio.MessageAt(body, "message"); ok {
			if c := gjson.GetBytes(body, "category"); c.Type == gjson.String && c.Str != "" {
				out += " (" + c.Str + ")"
			} else if c := gjson.GetBytes(body, "policyName"); c.Type == gjson.String && c.Str != "" {
				out += " (" + c.Str + ")"
			}
			return out
		}
	}
	return vendorio.Excerpt(body)
}
