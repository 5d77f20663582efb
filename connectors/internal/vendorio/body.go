package vendorio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

const (
	// ErrorBodyLimit bounds what is read of a non-2xx answer: enough for
	// the vendor's message, not a whole error page.
	ErrorBodyLimit = 64 << 10
	// drainLimit bounds how much of an unread body is drained so the
	// connection can be reused; beyond it, closing is cheaper.
	drainLimit = 256 << 10
)

// ReadBody reads resp's body: a 2xx body up to max bytes, any other up to
// ErrorBodyLimit, cut there (an error body is read in part, for its
// message). tooLarge reports a 2xx body longer than max; body is nil then.
// err is the reader's. The body is a buffer of its own.
func ReadBody(resp *http.Response, max int64) (body []byte, tooLarge bool, err error) {
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	limit := int64(ErrorBodyLimit)
	if ok {
		limit = max
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		if ok {
			return nil, true, nil
		}
		b = b[:limit]
	}
	return b, false, nil
}

// DrainClose reads what is left of body, up to a bound, so the connection
// can be reused, and closes it.
func DrainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, drainLimit)
	_ = body.Close()
}

// TransportMessage describes err, the failure of a call that got no
// (complete) answer after elapsed, for a source.VendorError's Message: a
// timeout says after how long (at most clientTimeout, the http.Client's,
// when it has one); anything else is err without the *url.Error around
// it, which repeats the URL (the VendorError has it, redacted where need
// be). Callers check for a cancelled poll first: that is not the vendor's
// fault.
func TransportMessage(err error, elapsed, clientTimeout time.Duration) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		d := elapsed
		if t := clientTimeout; t > 0 && d >= t {
			d = t
		}
		return fmt.Sprintf("timeout after %s", d.Round(time.Millisecond))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
