package source

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/pollwire/pollwire/instances"
)

// MaxWebhookAge is how old a signed vendor request may be: older ones are
// refused as replays.
const MaxWebhookAge = 5 * time.Minute

// WebhookRequest is a vendor's push as pollwire received it.
type WebhookRequest struct {
	Instance *instances.Instance // with its secrets
	Settings *instances.Settings
	Method   string
	// URL is the URL the vendor called, as seen from outside: scheme and
	// host from pollwire's public URL (or the request), path and query as
	// received. HubSpot signs it.
	URL    *url.URL
	Header http.Header
	Body   []byte // the raw body, exactly as received
	Now    time.Time
}

// Change is one change a vendor pushed.
type Change struct {
	// Resource is the poller resource it belongs to (contacts, accounts,
	// opportunities, activities…), so a change seen both by a webhook and by
	// the poller is delivered once.
	Resource string
	Type     string // CREATED, UPDATED or DELETED
	ObjectID string
	// Date is the record's updated date exactly as the poller would read it
	// (for a deletion: the deletion time as the poller's deletion feed
	// reports it); the pair (ObjectID, Date) is what dedupe compares.
	Date time.Time
	Raw  []byte // the vendor's own JSON for this change
}

// ErrSignature is wrapped by Verify errors: a missing, malformed, wrong or
// stale signature. The intake answers 401 and queues nothing.
var ErrSignature = errors.New("webhook signature refused")

// Webhook is implemented by connectors whose vendor pushes changes.
type Webhook interface {
	// Verify checks that the request comes from the vendor: its signature
	// over the raw body with the instance's secret, and a timestamp at most
	// MaxWebhookAge before req.Now. It must not touch the network.
	Verify(req *WebhookRequest) error
	// Changes turns a verified payload into changes, in the vendor's order.
	Changes(req *WebhookRequest) ([]Change, error)
}

// Subscriber is implemented by connectors whose vendor lets pollwire
// register its webhook itself (Close's POST /webhook/).
type Subscriber interface {
	// Subscribe registers callbackURL for the instance's resources and
	// returns secrets to store with the instance (e.g. the signature key
	// and the subscription id), encrypted.
	Subscribe(ctx context.Context, req *SubscribeRequest) (map[string]string, error)
	// Unsubscribe removes the subscription the stored secrets name.
	Unsubscribe(ctx context.Context, req *SubscribeRequest) error
}

// SubscribeRequest names the instance and where the vendor should push.
type SubscribeRequest struct {
	Instance    *instances.Instance // with its secrets
	Settings    *instances.Settings
	CallbackURL string // pollwire's public intake URL for this instance
	Client      *http.Client
}
