package salesforce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/vendor"
	"github.com/pollwire/pollwire/connectors/source"
)

// Limits of one poll, as the rest connector has them: they protect the
// engine from answers without bound and paging without end.
const (
	// MaxBodySize is the largest answer read; a larger one fails the poll.
	// A page of 2,000 wide records stays far below it.
	MaxBodySize = 64 << 20
	// MaxPages is how many query pages one poll follows before it gives up.
	MaxPages = 100_000

	// errorBodyLimit bounds what is read of an error answer.
	errorBodyLimit = 64 << 10
	// drainLimit bounds how much of an unread body is drained so the
	// connection can be reused.
	drainLimit = 256 << 10
)

var (
	acceptJSON = []string{"application/json"}
	userAgent  = []string{"pollwire"}
)

// response is an answer as read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// doRequest sends req and reads its answer: a 2xx body up to limit (or
// MaxBodySize when limit is 0), an error body up to errorBodyLimit.
func doRequest(ctx context.Context, client *http.Client, req *http.Request, limit int64) (*response, error) {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, transportError(ctx, client, req, err, time.Since(start))
	}
	defer func() {
		_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
		_ = resp.Body.Close()
	}()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if limit <= 0 {
		limit = MaxBodySize
	}
	if !ok {
		limit = errorBodyLimit
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, transportError(ctx, client, req, err, time.Since(start))
	}
	if int64(len(body)) > limit {
		if ok {
			return nil, &source.VendorError{Status: resp.StatusCode, Method: req.Method, URL: shortURL(req.URL),
				Message: fmt.Sprintf("response body larger than %d MiB", limit>>20)}
		}
		body = body[:limit] // an error body is read in part, for its message
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// transportError describes a call that got no (complete) answer. A
// cancelled poll is not Salesforce's fault and keeps context.Canceled
// visible.
func transportError(ctx context.Context, client *http.Client, req *http.Request, err error, elapsed time.Duration) error {
	u := shortURL(req.URL)
	if ctx.Err() == context.Canceled {
		return fmt.Errorf("%s %s: %w", req.Method, u, context.Canceled)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		d := elapsed
		if t := client.Timeout; t > 0 && d >= t {
			d = t
		}
		return &source.VendorError{Method: req.Method, URL: u, Message: fmt.Sprintf("timeout after %s", d.Round(time.Millisecond))}
	}
	// *url.Error repeats the URL, which is in the VendorError already.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &source.VendorError{Method: req.Method, URL: u, Message: err.Error()}
}

// shortURL renders u for messages. Salesforce URLs carry no credentials
// (the token goes in a header), but a SOQL query can be long.
func shortURL(u *url.URL) string {
	c := *u
	c.User = nil
	return vendor.Clip(c.String(), 500)
}
