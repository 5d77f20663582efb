// Package source is the contract between the polling engine and a
// connector's vendor logic: the engine asks a Source for the records of one
// poll window and turns them into events; the Source knows the vendor's
// queries, auth, pagination and rate limits.
package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pollwire/pollwire/instances"
)

// Request is one poll of one (instance, resource).
type Request struct {
	Instance *instances.Instance // with its secrets
	Settings *instances.Settings
	Poller   *instances.Poller
	// Since is the window start: W − pollDelay − lookback. Placeholders in
	// the poller URL expand with it.
	Since time.Time
	// Now is the poll's start T.
	Now time.Time
	// ServerLocation is the zone of ${date:…} placeholders.
	ServerLocation *time.Location
	// Client makes the vendor calls (timeouts, transport and limits are the
	// engine's).
	Client *http.Client
	// SaveSecrets stores credentials the vendor rotated (e.g. an OAuth
	// refresh token) as the instance's secrets, encrypted, merging them into
	// the stored ones. Nil when the caller cannot store (then keep them in
	// memory only).
	SaveSecrets func(ctx context.Context, secrets map[string]string) error
}

// PausedError is returned when the vendor's quota for the instance is spent
// until a known time (HubSpot's daily limit, Salesforce's
// REQUEST_LIMIT_EXCEEDED). The engine stops polling the instance until
// Until, shows Reason in its pollers' status and does not count failures:
// no error storm, and the watermark waits, so no change is lost.
type PausedError struct {
	Until  time.Time
	Reason string
}

func (e *PausedError) Error() string {
	return fmt.Sprintf("paused until %s: %s", e.Until.UTC().Format(time.RFC3339), e.Reason)
}

// Record is one vendor record of a poll.
type Record struct {
	// Raw is the vendor's JSON for the record, as received.
	Raw []byte
	// Deleted marks a deletion found through the vendor's deletion feed. A
	// deleted record carries its ID and the deletion time in DeletedAt, which
	// the engine uses in place of the updated date.
	Deleted   bool
	ID        string
	DeletedAt time.Time
}

// Source fetches the records of a poll window.
type Source interface {
	// Poll follows the vendor's pagination to the end and calls emit for
	// every record, in the vendor's order. A vendor fault returns an error
	// (wrapping *VendorError where the vendor answered); the engine then
	// keeps the watermark and records the error.
	Poll(ctx context.Context, req *Request, emit func(Record) error) error
}

// VendorError is a vendor answer that fails a poll.
type VendorError struct {
	Status int    // HTTP status; 0 for transport errors and bad bodies
	Method string // e.g. GET
	URL    string // without credentials
	// Message is a short description: the vendor's own message where its
	// error body has one.
	Message string
	// RetryAfter is how long the vendor asked to wait (429 and some 503s);
	// zero when it did not say.
	RetryAfter time.Duration
}

func (e *VendorError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s %s: %s", e.Method, e.URL, e.Message)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Status, http.StatusText(e.Status), e.Message)
}

// ErrRateLimited is returned (wrapped) when the vendor refused for rate
// limits and waiting would exceed the poll's budget; the engine reports it
// as throttling, not as a vendor fault.
var ErrRateLimited = errors.New("rate limited by the vendor")

// IsRateLimited reports whether err is a rate-limit refusal.
func IsRateLimited(err error) bool {
	var ve *VendorError
	return errors.Is(err, ErrRateLimited) || (errors.As(err, &ve) && ve.Status == http.StatusTooManyRequests)
}
