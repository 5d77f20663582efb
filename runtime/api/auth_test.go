package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pollwire/pollwire/runtime/api"
)

func TestAuthRefused(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name, authz string
	}{
		{"no header", ""},
		{"wrong user", "User nope, Organization " + testOrg},
		{"wrong org", "User " + testUser + ", Organization nope"},
		{"user only", "User " + testUser},
		{"org only", "Organization " + testOrg},
		{"parts swapped", "User " + testOrg + ", Organization " + testUser},
		{"bearer scheme", "Bearer " + testUser},
		{"empty parts", "User , Organization "},
		{"user with a suffix", "User " + testUser + "x, Organization " + testOrg},
	}
	for _, tt := range tests {
		for _, call := range []struct{ method, path string }{
			{"GET", api.Base + "/instances"},
			{"POST", api.Base + "/instances"},
			{"GET", api.Base + "/instances/1"},
			{"GET", api.Base + "/elements"},
			{"PUT", api.Base + "/instances/enabled"},
		} {
			t.Run(tt.name+"/"+call.method+" "+call.path, func(t *testing.T) {
				var b []byte
				if call.method == "POST" {
					b = closePolling(t)
				}
				mustError(t, ts.do(call.method, call.path, b, tt.authz), http.StatusUnauthorized)
			})
		}
	}
	ts.mustBeEmpty(t)
}

// TestAuthUnsetSecrets: a server whose Organization secret is unset must not
// let a header without one through.
func TestAuthUnsetSecrets(t *testing.T) {
	ts := newTestServer(t)
	ts.stop()
	ts.Creds = api.Credentials{User: testUser}
	ts.start()
	for _, authz := range []string{"User " + testUser, "User " + testUser + ", Organization ", ""} {
		mustError(t, ts.do("GET", api.Base+"/instances", nil, authz), http.StatusUnauthorized)
	}
}

func TestElementToken(t *testing.T) {
	ts := newTestServer(t)
	a := ts.create(closePolling(t))
	b := ts.create(body(t, closePolling(t), set("name", "close-staging")))
	idA, idB := instanceID(t, a), instanceID(t, b)
	tokA, tokB := a["token"].(string), b["token"].(string)
	if tokA == tokB {
		t.Fatal("two instances share a token")
	}

	t.Run("PUT and DELETE /instances/enabled toggle the token's instance", func(t *testing.T) {
		r := ts.do("DELETE", api.Base+"/instances/enabled", nil, ts.auth(tokA))
		mustStatus(t, r, http.StatusOK)
		if v := r.Object(t); v["disabled"] != true || instanceID(t, v) != idA {
			t.Fatalf("answer %s, want instance %d disabled", r.Body, idA)
		}
		if !ts.stored(idA).Disabled {
			t.Error("instance A is not disabled in the store")
		}
		if ts.stored(idB).Disabled {
			t.Error("instance B was disabled too")
		}
		r = ts.do("PUT", api.Base+"/instances/enabled", nil, ts.auth(tokA))
		mustStatus(t, r, http.StatusOK)
		if v := r.Object(t); v["disabled"] != false {
			t.Fatalf("answer %s, want disabled false", r.Body)
		}
		if ts.stored(idA).Disabled {
			t.Error("instance A is still disabled in the store")
		}
	})
	t.Run("/instances/enabled needs an Element token", func(t *testing.T) {
		mustError(t, ts.do("PUT", api.Base+"/instances/enabled", nil, ts.auth()), http.StatusUnauthorized)
	})
	t.Run("/instances/enabled with an unknown token", func(t *testing.T) {
		mustError(t, ts.do("DELETE", api.Base+"/instances/enabled", nil, ts.auth("bm90LWEtdG9rZW4=")), http.StatusUnauthorized)
		if ts.stored(idA).Disabled || ts.stored(idB).Disabled {
			t.Error("an unknown token disabled an instance")
		}
	})
	t.Run("Element token needs the admin secrets too", func(t *testing.T) {
		mustError(t, ts.do("PUT", api.Base+"/instances/enabled", nil, "Element "+tokA), http.StatusUnauthorized)
		mustError(t, ts.do("PUT", api.Base+"/instances/enabled", nil, "User nope, Organization "+testOrg+", Element "+tokA), http.StatusUnauthorized)
	})
	t.Run("own token reads its instance", func(t *testing.T) {
		mustStatus(t, ts.do("GET", fmt.Sprintf("%s/instances/%d", api.Base, idA), nil, ts.auth(tokA)), http.StatusOK)
	})
	t.Run("another instance's token is refused", func(t *testing.T) {
		for _, call := range []struct {
			method string
			path   string
			body   []byte
		}{
			{"GET", fmt.Sprintf("%s/instances/%d", api.Base, idB), nil},
			{"PATCH", fmt.Sprintf("%s/instances/%d", api.Base, idB), []byte(`{"name": "stolen"}`)},
			{"DELETE", fmt.Sprintf("%s/instances/%d", api.Base, idB), nil},
			{"DELETE", fmt.Sprintf("%s/instances/%d/enabled", api.Base, idB), nil},
		} {
			mustError(t, ts.do(call.method, call.path, call.body, ts.auth(tokA)), http.StatusUnauthorized)
		}
		if got := ts.stored(idB); got.Name != "close-staging" || got.Disabled {
			t.Errorf("instance B changed: name %q, disabled %v", got.Name, got.Disabled)
		}
	})
	t.Run("GET /instances with a token lists only its instance", func(t *testing.T) {
		r := ts.do("GET", api.Base+"/instances", nil, ts.auth(tokB))
		mustStatus(t, r, http.StatusOK)
		list := r.Array(t)
		if len(list) != 1 || instanceID(t, list[0].(map[string]any)) != idB {
			t.Fatalf("list %s, want only instance %d", r.Body, idB)
		}
	})
}

func TestHTTPErrors(t *testing.T) {
	ts := newTestServer(t)
	id := instanceID(t, ts.create(closePolling(t)))
	tests := []struct {
		name, method, path string
		body               []byte
		status             int
		allow              string // expected Allow header of a 405
	}{
		{"unknown instance", "GET", api.Base + "/instances/999", nil, http.StatusNotFound, ""},
		{"unknown instance PATCH", "PATCH", api.Base + "/instances/999", []byte(`{"name": "x"}`), http.StatusNotFound, ""},
		{"unknown instance DELETE", "DELETE", api.Base + "/instances/999", nil, http.StatusNotFound, ""},
		{"unknown instance enabled", "PUT", api.Base + "/instances/999/enabled", nil, http.StatusNotFound, ""},
		{"unknown path under the base", "GET", api.Base + "/widgets", nil, http.StatusNotFound, ""},
		{"unknown path outside the base", "GET", "/nothing/here", nil, http.StatusNotFound, ""},
		{"non-integer id", "GET", api.Base + "/instances/abc", nil, http.StatusBadRequest, ""},
		{"zero id", "GET", api.Base + "/instances/0", nil, http.StatusBadRequest, ""},
		{"negative id", "GET", api.Base + "/instances/-3", nil, http.StatusBadRequest, ""},
		{"id too large", "GET", api.Base + "/instances/99999999999999999999", nil, http.StatusBadRequest, ""},
		{"bad page", "GET", api.Base + "/instances?page=0", nil, http.StatusBadRequest, ""},
		{"bad pageSize", "GET", api.Base + "/instances?pageSize=5000", nil, http.StatusBadRequest, ""},
		{"wrong method on /instances", "DELETE", api.Base + "/instances", nil, http.StatusMethodNotAllowed, "GET, POST"},
		{"wrong method on /instances/{id}", "POST", fmt.Sprintf("%s/instances/%d", api.Base, id), nil, http.StatusMethodNotAllowed, "DELETE, GET, PATCH, PUT"},
		{"wrong method on /elements", "POST", api.Base + "/elements", nil, http.StatusMethodNotAllowed, "GET"},
		{"wrong method on /healthz", "POST", "/healthz", nil, http.StatusMethodNotAllowed, "GET"},
		{"body over 1 MiB", "POST", api.Base + "/instances", bigBody(t), http.StatusRequestEntityTooLarge, ""},
		{"PATCH body over 1 MiB", "PATCH", fmt.Sprintf("%s/instances/%d", api.Base, id), bigBody(t), http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.admin(tt.method, tt.path, tt.body)
			mustError(t, r, tt.status)
			if tt.status == http.StatusMethodNotAllowed {
				if got := r.Header.Get("Allow"); got != tt.allow {
					t.Errorf("Allow %q, want %q", got, tt.allow)
				}
			}
		})
	}
	// Nothing above changed the one instance.
	r := ts.admin("GET", api.Base+"/instances", nil)
	if list := r.Array(t); len(list) != 1 {
		t.Fatalf("%d instances, want 1", len(list))
	}
	if got := ts.stored(id); got.Name != "close-prod-contacts" {
		t.Errorf("instance renamed to %q", got.Name)
	}
}

// bigBody is a valid instance that an ignored description pads past 1 MiB, so only
// the size can be the reason to refuse it.
func bigBody(t *testing.T) []byte {
	b := body(t, closePolling(t), set("description", strings.Repeat("x", api.MaxBodyBytes)))
	if len(b) <= api.MaxBodyBytes {
		t.Fatalf("body is %d bytes", len(b))
	}
	return b
}

func TestHealth(t *testing.T) {
	ts := newTestServer(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		r := ts.do("GET", path, nil, "")
		mustStatus(t, r, http.StatusOK)
		if !bytes.Contains(r.Body, []byte(`"status"`)) {
			t.Errorf("%s answered %s", path, r.Body)
		}
	}
}
