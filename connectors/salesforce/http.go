package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
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
// MaxBodySize when limit is 0), an error body up to vendorio.ErrorBodyLimit.
func doRequest(ctx context.Context, client *http.Client, req *http.Request, limit int64) (*response, error) {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, transportError(ctx, client, req, err, time.Since(start))
	}
	defer vendorio.DrainClose(resp.Body)
	if limit <= 0 {
		limit = MaxBodySize
	}
	body, tooLarge, err := vendorio.ReadBody(resp, limit)
	if err != nil {
		return nil, transportError(ctx, client, req, err, time.Since(start))
	}
	if tooLarge {
		return nil, &source.VendorError{Status: resp.StatusCode, Method: req.Method, URL: shortURL(req.URL),
			Message: fmt.Sprintf("response body larger than %d MiB", limit>>20)}
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
	return &source.VendorError{Method: req.Method, URL: u, Message: vendorio.TransportMessage(err, elapsed, client.Timeout)}
}

// shortURL renders u for messages. Salesforce URLs carry no credentials
// (the token goes in a header), but a SOQL query can be long.
func shortURL(u *url.URL) string {
	c := *u
	c.User = nil
	return vendorio.Clip(c.String(), 500)
}
