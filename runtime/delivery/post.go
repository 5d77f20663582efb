package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const (
	userAgent = "pollwire"
	// drainLimit is how much of an answer is read: enough to reuse the
	// connection after a typical short reply, never a large download.
	drainLimit = 4 << 10
	// snippetLimit is how much of a failed answer goes into LastError.
	snippetLimit = 200
)

// errAttemptTimeout is the cause of an attempt cancelled by Config.Timeout.
var errAttemptTimeout = errors.New("delivery attempt timed out")

// result is the outcome of one attempt.
type result struct {
	outcome    string // outcome* label
	status     int
	errText    string
	retryAfter time.Duration // from a Retry-After of a failed answer
	abandoned  bool          // cancelled (Stop, Forget) before an answer: not an attempt
}

// post sends one attempt. The timeout runs on the injected clock, so tests
// decide when an answer is late.
func (d *Dispatcher) post(ctx context.Context, x *Delivery, body []byte, key string, now time.Time) result {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := d.cfg.Clock.NewTimer(d.cfg.Timeout)
	done, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-timer.C():
			cancel(errAttemptTimeout)
		case <-done:
		}
	}()
	defer func() {
		timer.Stop()
		close(done)
		<-watched
	}()

	req, err := http.NewRequestWithContext(actx, http.MethodPost, x.URL, bytes.NewReader(body))
	if err != nil {
		return result{outcome: outcomeTransportError, errText: "invalid callback URL: " + unwrapURLError(err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderElementsID, x.EventID)
	for k, v := range Sign(body, key, x.EventID, now) {
		req.Header[k] = v
	}

	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return result{abandoned: true}
		case errors.Is(context.Cause(actx), errAttemptTimeout):
			return result{outcome: outcomeTimeout, errText: fmt.Sprintf("no answer within %s", d.cfg.Timeout)}
		case isTimeout(err):
			return result{outcome: outcomeTimeout, errText: unwrapURLError(err)}
		}
		return result{outcome: outcomeTransportError, errText: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	// The status decides; the body is read only to keep the connection
	// reusable and to show the start of an error answer.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, snippetLimit))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit-snippetLimit))

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return result{outcome: outcomeSuccess, status: resp.StatusCode}
	}
	text := "callback answered " + resp.Status
	if s := snippet(head); s != "" {
		text += ": " + s
	}
	return result{
		outcome:    outcomeHTTPError,
		status:     resp.StatusCode,
		errText:    text,
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), d.cfg.Clock.Now()),
	}
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date. It returns 0 when absent, malformed or not in the future.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > math.MaxInt64/int64(time.Second) {
			return math.MaxInt64
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// unwrapURLError drops the "Post <url>:" that net/http puts before
// transport errors: callback URLs may carry tokens in their query, and
// LastError is shown by the admin API and logged.
func unwrapURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// snippet makes the start of an answer safe to store and log: valid UTF-8,
// one line, short.
func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	if len(s) > snippetLimit {
		s = strings.ToValidUTF8(s[:snippetLimit], "")
	}
	return s
}
