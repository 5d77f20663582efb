package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of a notification.
const (
	HeaderElementsID        = "Elements-Webhook-Id"
	HeaderElementsSignature = "Elements-Webhook-Signature"
	// Standard Webhooks (https://www.standardwebhooks.com), sent when the
	// signature key has the whsec_ form.
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

// whsecPrefix marks a Standard Webhooks secret: base64 of the real key.
const whsecPrefix = "whsec_"

// Sign returns the signature headers of one attempt to deliver body: none
// without a key; Elements-Webhook-Signature (HMAC-SHA256 of the raw body
// keyed by the key string as written) with one; and, when the key has the
// form whsec_<base64>, also the Standard Webhooks headers webhook-id,
// webhook-timestamp (ts in unix seconds) and webhook-signature. A whsec_
// key that is not base64 gets only the Elements signature (see CheckKey).
//
// ts must be the time of the attempt: Standard Webhooks consumers reject
// old timestamps, so every retry is signed afresh.
func Sign(body []byte, key string, eventID string, ts time.Time) http.Header {
	h := http.Header{}
	if key == "" {
		return h
	}
	// The Elements signature predates Standard Webhooks; its consumers
	// were given the key as a plain string, whsec_ prefix included.
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	h.Set(HeaderElementsSignature, "sha256="+base64.StdEncoding.EncodeToString(mac.Sum(nil)))

	secret, ok := whsecKey(key)
	if !ok {
		return h
	}
	unix := strconv.FormatInt(ts.Unix(), 10)
	mac = hmac.New(sha256.New, secret)
	mac.Write([]byte(eventID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(unix))
	mac.Write([]byte{'.'})
	mac.Write(body)
	h.Set(HeaderWebhookID, eventID)
	h.Set(HeaderWebhookTimestamp, unix)
	h.Set(HeaderWebhookSignature, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return h
}

// CheckKey reports whether key can sign: any string can, except a whsec_
// key whose rest is not base64 (ErrInvalidKey). Validation of an
// instance's configuration can use it to refuse such a key up front instead
// of sending notifications without the Standard Webhooks headers.
func CheckKey(key string) error {
	if strings.HasPrefix(key, whsecPrefix) {
		if _, ok := whsecKey(key); !ok {
			return ErrInvalidKey
		}
	}
	return nil
}

// whsecKey decodes the secret of a whsec_ key. The reference libraries
// decode padded standard base64; unpadded is accepted too because such keys
// are common and the bytes they mean are unambiguous.
func whsecKey(key string) ([]byte, bool) {
	rest, ok := strings.CutPrefix(key, whsecPrefix)
	if !ok {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(rest); err == nil && len(b) > 0 {
			return b, true
		}
	}
	return nil, false
}
