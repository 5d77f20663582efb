package hubspot

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"golang.org/x/oauth2"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
)

// TokenPath is HubSpot's OAuth v1 token endpoint, relative to base.url.
// (v1 is documented as retired on 2027-02-16 in favour of /oauth/v3/token,
// which takes the same form.)
const TokenPath = "/oauth/v1/token"

// defaultTokenTTL is the access-token lifetime assumed when the token
// endpoint does not say (HubSpot's is 30 minutes).
const defaultTokenTTL = 30 * time.Minute

// knownRefreshTokens is how many refresh tokens a tokenSource remembers as
// its own: the configured one and those HubSpot rotated to since, which
// requests may still carry until the stored instance catches up.
const knownRefreshTokens = 16

// tokenSource is one instance's OAuth access token, renewed through
// x/oauth2's refresh-token flow before it expires and when HubSpot answers
// 401. It is safe for concurrent use by the instance's pollers: one of them
// refreshes, the others wait for its token.
type tokenSource struct {
	conf oauth2.Config
	// account identifies the installation for rate limits; it keeps the
	// value of the first refresh token across rotations.
	account string
	now     func() time.Time

	// kmu guards known on its own: looking a source up must not wait for
	// a refresh in progress under mu.
	kmu   sync.Mutex
	known []string // refresh tokens that mean "these credentials"

	mu       sync.Mutex
	refresh  string // the refresh token to use next
	tok      *oauth2.Token
	expiry   time.Time // by now(), not by x/oauth2's wall clock
	early    time.Duration
	pending  string // a rotated refresh token not yet stored
	lastUsed time.Time
}

func newTokenSource(tokenURL, clientID, clientSecret, refresh, account string, now func() time.Time) *tokenSource {
	return &tokenSource{
		conf: oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			// HubSpot's v1 endpoint reads the client credentials from the
			// form, not from Basic auth.
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		account:  account,
		now:      now,
		refresh:  refresh,
		known:    []string{refresh},
		lastUsed: now(),
	}
}

// accepts reports whether a request carrying refresh still means this
// source's credentials (the configured token or one rotated from it).
func (ts *tokenSource) accepts(refresh string) bool {
	ts.kmu.Lock()
	defer ts.kmu.Unlock()
	return slices.Contains(ts.known, refresh)
}

// Token returns a valid access token, refreshing it when it is missing or
// about to expire. client makes the token request.
func (ts *tokenSource) Token(ctx context.Context, client *http.Client) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.now()
	ts.lastUsed = now
	if ts.tok != nil && now.Before(ts.expiry.Add(-ts.early)) {
		return ts.tok.AccessToken, nil
	}
	// x/oauth2 does the refresh-token grant; its own reuse logic is not
	// used because it keeps expiry by the wall clock, and pollwire's
	// clock is injected.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	tok, err := ts.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: ts.refresh}).Token()
	if err != nil {
		return "", ts.refreshError(err)
	}
	ttl := defaultTokenTTL
	if tok.ExpiresIn > 0 {
		ttl = time.Duration(tok.ExpiresIn) * time.Second
	}
	ts.tok, ts.expiry = tok, now.Add(ttl)
	// Renew a tenth of the lifetime early (3 minutes of HubSpot's 30), so
	// a token never expires between the check and a slow page.
	ts.early = min(max(ttl/10, time.Second), 5*time.Minute)
	if tok.RefreshToken != "" && tok.RefreshToken != ts.refresh {
		ts.refresh = tok.RefreshToken
		ts.pending = tok.RefreshToken
		ts.kmu.Lock()
		ts.known = append(ts.known, tok.RefreshToken)
		if len(ts.known) > knownRefreshTokens {
			ts.known = slices.Delete(ts.known, 1, 2) // keep the configured one
		}
		ts.kmu.Unlock()
	}
	return tok.AccessToken, nil
}

// invalidate drops access when HubSpot refused it (401), so the next
// Token refreshes; a token already replaced by another poller stays.
func (ts *tokenSource) invalidate(access string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != nil && ts.tok.AccessToken == access {
		ts.tok = nil
	}
}

// takePending returns a rotated refresh token that still has to be stored,
// clearing it; putPending gives it back after a failed save.
func (ts *tokenSource) takePending() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	p := ts.pending
	ts.pending = ""
	return p
}

func (ts *tokenSource) putPending(refresh string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.pending == "" && ts.refresh == refresh {
		ts.pending = refresh
	}
}

// refreshError turns a failed refresh into a VendorError with HubSpot's own
// message (its token endpoint answers {"status":"BAD_REFRESH_TOKEN",
// "message":…}, not RFC 6749's error field).
func (ts *tokenSource) refreshError(err error) error {
	ve := &source.VendorError{Method: http.MethodPost, URL: ts.conf.Endpoint.TokenURL}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil {
			ve.Status = re.Response.StatusCode
		}
		msg := "refresh token grant refused"
		if m := gjson.GetBytes(re.Body, "message"); m.Type == gjson.String && m.Str != "" {
			msg = "refresh token grant refused: " + vendorio.Clip(vendorio.OneLine(m.Str), 300)
		} else if re.ErrorCode != "" {
			msg = "refresh token grant refused: " + re.ErrorCode
		}
		if s := gjson.GetBytes(re.Body, "status"); s.Type == gjson.String && s.Str != "" && s.Str != "error" {
			msg += " (" + s.Str + ")"
		}
		ve.Message = msg
		return ve
	}
	if errors.Is(err, context.Canceled) {
		return err // the poll was cancelled: not the vendor's fault
	}
	ve.Message = "refresh token grant failed: " + err.Error()
	return ve
}
