package rest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/pollwire/pollwire/connectors/internal/simkit"
)

// DefaultWebhookRetry is the Simulator's wait before each retry of a push
// that failed (no answer, a timeout or a status other than 2xx).
var DefaultWebhookRetry = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}

// DefaultWebhookTimeout is how long the Simulator waits for a push's
// answer.
const DefaultWebhookTimeout = 10 * time.Second

// The fields of a Simulator push, {"resource": …, "type": …, "record": {…}}:
// an instance reads them with webhook.resource.path "resource",
// webhook.type.path "type" and webhook.record.path "record".
const (
	SimPushResource = "resource"
	SimPushType     = "type"
	SimPushRecord   = "record"
)

// simWebhooks sends the Simulator's pushes through a simkit.Webhooks, one
// request per write and one at a time, failed ones retried on their
// schedule without holding up new ones.
type simWebhooks struct {
	send     *simkit.Webhooks[[]byte] // push bodies
	now      func() time.Time
	secret   []byte
	header   string
	encoding string
	prefix   bool
	tsHeader string
	rate     float64
	client   *http.Client

	rng *rand.Rand // used only under send's lock, in Notify
}

func newSimWebhooks(o *SimOptions, now func() time.Time) *simWebhooks {
	w := &simWebhooks{
		now: now, secret: []byte(o.WebhookSecret), header: or(o.WebhookHeader, DefaultWebhookSignatureHeader),
		encoding: or(o.WebhookEncoding, EncodingHex), prefix: o.WebhookPrefix, tsHeader: o.WebhookTimestampHeader,
		rate: o.WebhookDropRate, client: o.WebhookClient,
		rng: rand.New(rand.NewPCG(o.WebhookSeed, o.WebhookSeed^0x9e3779b97f4a7c15)),
	}
	retry := o.WebhookRetry
	if retry == nil {
		retry = DefaultWebhookRetry
	}
	if w.client == nil {
		w.client = &http.Client{Timeout: DefaultWebhookTimeout}
	}
	w.send = simkit.NewWebhooks(simkit.WebhookOptions[[]byte]{
		URL: o.WebhookURL, Retry: retry, Batch: 1,
		Post: func(url string, _ int, bodies [][]byte) int { return w.post(url, bodies[0]) },
		// A push that had nowhere to go is not retried.
		GiveUp: func(_ int, sentTo, _ string) bool { return sentTo == "" },
	})
	return w
}

// SetWebhookURL points the Simulator's pushes at url, for tests that start
// their receiver after the Simulator; "" stops new ones.
func (s *Simulator) SetWebhookURL(url string) {
	s.hooks.send.SetURL(url)
}

// Webhooks counts pushes: sent (attempted at least once), delivered
// (answered 2xx) and dropped (lost to WebhookDropRate, or still failing
// after the last retry).
func (s *Simulator) Webhooks() (sent, delivered, dropped int) {
	return s.hooks.send.Counts()
}

// FlushWebhooks waits until every push is delivered or given up, retries
// included, or until ctx ends.
func (s *Simulator) FlushWebhooks(ctx context.Context) error {
	return s.hooks.send.Flush(ctx)
}

// notify queues a push of a write: {"resource", "type", "record"}, the
// record as stored (for a deletion, as it was, with updated_at moved to the
// deletion time, so the deletion has a date of its own). Callers hold s.mu,
// so pushes queue in write order.
func (s *Simulator) notify(resource, typ string, record []byte) {
	w := s.hooks
	w.send.Notify(func() ([][]byte, int) {
		if w.rate > 0 && w.rng.Float64() < w.rate {
			return nil, 1
		}
		body, err := json.Marshal(map[string]any{SimPushResource: resource, SimPushType: typ, SimPushRecord: json.RawMessage(record)})
		if err != nil {
			return nil, 0
		}
		return [][]byte{body}, 0
	})
}

// post sends one attempt of a push, signed, and returns the answer's
// status (0 when there was none).
func (w *simWebhooks) post(url string, body []byte) int {
	if url == "" {
		return 0
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pollwire-rest-simulator")
	mac := hmac.New(sha256.New, w.secret)
	if w.tsHeader != "" {
		ts := strconv.FormatInt(w.now().Unix(), 10)
		req.Header.Set(w.tsHeader, ts)
		mac.Write([]byte(ts + "."))
	}
	mac.Write(body)
	sig := hex.EncodeToString(mac.Sum(nil))
	if w.encoding == EncodingBase64 {
		sig = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	if w.prefix {
		sig = "sha256=" + sig
	}
	req.Header.Set(w.header, sig)
	return simkit.Send(w.client, req)
}
