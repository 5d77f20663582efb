package salesforce

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// The JWT bearer flow (RFC 7523) as Salesforce runs it.
//
// golang.org/x/oauth2/jwt is not used: it always adds a "scope" claim and
// an "iat", sets "aud" from the token URL unless told otherwise, keeps
// tokens until an expires_in that Salesforce never sends (so it would never
// renew them), drops instance_url into an untyped Extra, and takes its HTTP
// client from the context. Salesforce's flow is small enough to write out:
// sign {iss, sub, aud, exp} with RS256 (golang-jwt), POST it as a form,
// read access_token and instance_url, and renew when a data call answers
// 401 INVALID_SESSION_ID.
const (
	grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	tokenPath = "/services/oauth2/token"
	// assertionTTL is the assertion's lifetime: Salesforce wants exp within
	// three minutes.
	assertionTTL = 3 * time.Minute
)

// credentials are an instance's JWT bearer settings.
type credentials struct {
	consumerKey string // iss
	username    string // sub
	loginURL    string // token endpoint host and aud, without a trailing slash
	pem         string // the RSA private key
}

func credentialsOf(inst *instances.Instance) (credentials, error) {
	if inst == nil {
		return credentials{}, fmt.Errorf("%w: no instance", ErrCredentials)
	}
	get := func(k string) string { v, _ := inst.Value(k); return strings.TrimSpace(v) }
	c := credentials{
		consumerKey: get(KeyConsumerKey),
		username:    get(KeyUsername),
		loginURL:    strings.TrimRight(get(KeyLoginURL), "/"),
		pem:         get(KeyPrivateKey),
	}
	if c.loginURL == "" {
		c.loginURL = DefaultLoginURL
	}
	var missing []string
	for _, kv := range [][2]string{{KeyConsumerKey, c.consumerKey}, {KeyUsername, c.username}, {KeyPrivateKey, c.pem}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		return credentials{}, fmt.Errorf("%w: %s not set", ErrCredentials, strings.Join(missing, ", "))
	}
	return c, nil
}

// key identifies the credentials without holding the private key itself.
func (c credentials) key() string {
	h := sha256.Sum256([]byte(c.pem))
	return c.loginURL + "\x00" + c.consumerKey + "\x00" + c.username + "\x00" + hex.EncodeToString(h[:])
}

// parsePrivateKey reads a PEM RSA private key, PKCS#1 or PKCS#8.
func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, fmt.Errorf("%w: %s is not PEM", ErrCredentials, KeyPrivateKey)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not an RSA private key (PKCS#1 or PKCS#8)", ErrCredentials, KeyPrivateKey)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s is a %T, not an RSA key; Salesforce signs with RS256", ErrCredentials, KeyPrivateKey, k)
	}
	return rk, nil
}

// token is an access token and the org it opens.
type token struct {
	access      string
	instanceURL string
}

// session is the access token every poll with the same credentials shares,
// across instances. Salesforce JWT tokens carry no lifetime: one is used
// until a data call answers 401, then exchanged again.
type session struct {
	creds credentials
	// lock is held while a token is exchanged, so that polls finding no
	// token wait for one exchange rather than each making their own. A
	// channel, so that waiting gives up with the context.
	lock chan struct{}

	mu  sync.Mutex
	tok *token
	key *rsa.PrivateKey // parsed at the first exchange
}

func newSession(c credentials) *session {
	return &session{creds: c, lock: make(chan struct{}, 1)}
}

func (s *session) current() *token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok
}

// get returns the session's token, exchanging an assertion for one when
// there is none.
func (s *session) get(ctx context.Context, src *Source, client *http.Client) (*token, error) {
	if t := s.current(); t != nil {
		return t, nil
	}
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.lock }()
	if t := s.current(); t != nil {
		return t, nil // another poll exchanged while this one waited
	}
	s.mu.Lock()
	key := s.key
	s.mu.Unlock()
	if key == nil {
		k, err := parsePrivateKey(s.creds.pem)
		if err != nil {
			return nil, err
		}
		key = k
	}
	t, err := src.exchange(ctx, client, s.creds, key)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.tok, s.key = t, key
	s.mu.Unlock()
	return t, nil
}

// invalidate drops bad if it is still the session's token. Comparing first
// means that polls which all saw the same token expire renew it once, not
// once each.
func (s *session) invalidate(bad *token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == bad {
		s.tok = nil
	}
}

// exchange signs an assertion and trades it for a token at the login URL.
func (src *Source) exchange(ctx context.Context, client *http.Client, c credentials, key *rsa.PrivateKey) (*token, error) {
	// MapClaims, not RegisteredClaims: golang-jwt writes a one-element
	// RegisteredClaims audience as an array, and Salesforce's examples (and
	// validator) expect aud as a string.
	claims := jwt.MapClaims{
		"iss": c.consumerKey,
		"sub": c.username,
		"aud": c.loginURL,
		"exp": src.now().Add(assertionTTL).Unix(),
	}
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		return nil, fmt.Errorf("salesforce: signing the JWT assertion: %w", err)
	}
	tokenURL := c.loginURL + tokenPath
	form := url.Values{"grant_type": {grantType}, "assertion": {assertion}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form))
	if err != nil {
		return nil, &source.VendorError{Method: http.MethodPost, URL: tokenURL, Message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Accept"] = acceptJSON
	req.Header["User-Agent"] = userAgent
	resp, err := doRequest(ctx, client, req, vendorio.ErrorBodyLimit)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, &source.VendorError{Status: resp.status, Method: http.MethodPost, URL: tokenURL,
			Message: "token exchange refused: " + errorsMessage(parseErrors(resp.body), resp.body)}
	}
	bad := func(msg string) error {
		return &source.VendorError{Status: resp.status, Method: http.MethodPost, URL: tokenURL, Message: msg}
	}
	if !gjson.ValidBytes(resp.body) {
		return nil, bad("the token answer is not JSON")
	}
	res := gjson.GetManyBytes(resp.body, "access_token", "instance_url")
	t := &token{access: res[0].String(), instanceURL: strings.TrimRight(res[1].String(), "/")}
	if t.access == "" {
		return nil, bad("the token answer has no access_token")
	}
	// Every data call carries the token to instance_url: it must be a
	// plain http(s) origin.
	u, err := url.Parse(t.instanceURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, bad(fmt.Sprintf("the token answer's instance_url %q is not an http(s) origin", vendorio.Clip(t.instanceURL, 100)))
	}
	return t, nil
}
