package salesforce

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testConsumerKey = "3MVG9fe4g9fhX0E5VnZr8bKq2LmTn7Wx.Yc4dJh6Ga1sPo0QiUe3RtBvKl5MzN"
	testUsername    = "integration@northwind-trading.com"
)

// Keys are made at test time: no private key lives in the repository.
var (
	testKey  = sync.OnceValue(func() *rsa.PrivateKey { return mustKey() })
	otherKey = sync.OnceValue(func() *rsa.PrivateKey { return mustKey() })
)

func mustKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// pkcs1PEM and pkcs8PEM write a key as connected-app setups produce it.
func pkcs1PEM(k *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func pkcs8PEM(k *rsa.PrivateKey) string {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
}

// fakeClock is a settable clock shared by a simulator and a Source.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testOrg is a simulator on loopback and the clock it runs on.
type testOrg struct {
	sim *Simulator
	srv *httptest.Server
	clk *fakeClock
	// wrap, when set, sees every request before the simulator does.
	mu   sync.Mutex
	wrap func(w http.ResponseWriter, r *http.Request) bool
}

func newTestOrg(t testing.TB, opts SimOptions) *testOrg {
	t.Helper()
	o := &testOrg{clk: newFakeClock(t0)}
	if opts.Now == nil {
		opts.Now = o.clk.Now
	}
	if opts.ConsumerKey == "" {
		opts.ConsumerKey = testConsumerKey
	}
	if opts.Username == "" {
		opts.Username = testUsername
	}
	if opts.PublicKey == nil {
		opts.PublicKey = &testKey().PublicKey
	}
	o.sim = NewSimulator(opts)
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		wrap := o.wrap
		o.mu.Unlock()
		if wrap != nil && wrap(w, r) {
			return
		}
		o.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// intercept installs a hook that sees requests first; it answers itself
// when it returns true.
func (o *testOrg) intercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.wrap = f
}

// assertion signs claims as a client would.
func assertion(t testing.TB, key *rsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims(o *testOrg) jwt.MapClaims {
	return jwt.MapClaims{"iss": testConsumerKey, "sub": testUsername, "aud": o.srv.URL, "exp": o.clk.Now().Add(3 * time.Minute).Unix()}
}

// token gets an access token from the simulator.
func (o *testOrg) token(t testing.TB) string {
	t.Helper()
	status, body := o.exchange(t, assertion(t, testKey(), validClaims(o)))
	if status != 200 {
		t.Fatalf("token: %d %s", status, body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		t.Fatalf("token answer %s", body)
	}
	return out.AccessToken
}

func (o *testOrg) exchange(t testing.TB, jwtAssertion string) (int, []byte) {
	t.Helper()
	resp, err := http.PostForm(o.srv.URL+tokenPath, url.Values{"grant_type": {grantType}, "assertion": {jwtAssertion}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// call makes a data request with a token and returns status, header, body.
func (o *testOrg) call(t testing.TB, method, path, tok string, body any, header ...string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, o.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// query runs SOQL through the REST API.
func (o *testOrg) query(t testing.TB, tok, soql string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	return o.call(t, http.MethodGet, DataPath+"/query?q="+url.QueryEscape(soql), tok, nil, header...)
}

// errorCode returns the first errorCode of an error array.
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	errs := parseErrors(body)
	if len(errs) == 0 {
		t.Fatalf("not an error answer: %s", body)
	}
	return errs[0].Code
}
