package delivery

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// Test 7: the guard refuses loopback by address and by name, at dial time.
func TestNewClientGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	guarded := NewClient(false)
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/hook"} {
		resp, err := guarded.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: connected through the guard", u)
			continue
		}
		var ae *AddressError
		if !errors.Is(err, ErrPrivateAddress) || !errors.As(err, &ae) || ae.Kind != "loopback" {
			t.Errorf("%s: error %v is not a loopback AddressError", u, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, ae.Addr.String()) || !strings.Contains(msg, "set POLLWIRE_ALLOW_PRIVATE_CALLBACKS=true to allow") {
			t.Errorf("%s: message %q lacks the address or the hint", u, msg)
		}
	}

	// Allowed, it connects; and it does not follow the redirect, which
	// would turn the POST into a GET.
	resp, err := NewClient(true).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("NewClient(true): %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want the 302 itself", resp.StatusCode)
	}
	if tr := guarded.Transport.(*http.Transport); tr.Proxy != nil {
		t.Error("the client takes a proxy from the environment")
	}
}

func TestAddressKind(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:80":          "loopback",
		"[::1]:80":              "loopback",
		"[::ffff:127.0.0.1]:80": "loopback",
		"10.1.2.3:443":          "private",
		"172.16.0.1:443":        "private",
		"172.31.255.255:443":    "private",
		"192.168.1.1:443":       "private",
		"[fc00::1]:443":         "private",
		"[fd12:3456::1]:443":    "private",
		"169.254.169.254:80":    "link-local",
		"[fe80::1]:80":          "link-local",
		"100.64.0.1:80":         "carrier-grade NAT (shared)",
		"100.127.255.254:80":    "carrier-grade NAT (shared)",
		"0.0.0.0:80":            "unspecified",
		"0.1.2.3:80":            "unspecified",
		"[::]:80":               "unspecified",
		"224.0.0.1:80":          "multicast or broadcast",
		"[ff02::1]:80":          "multicast or broadcast",
		"255.255.255.255:80":    "multicast or broadcast",
		"8.8.8.8:443":           "",
		"172.32.0.1:443":        "",
		"100.128.0.1:443":       "",
		"[2606:4700::1111]:443": "",
	} {
		err := refusePrivate("tcp", addr, nil)
		var ae *AddressError
		switch {
		case want == "" && err != nil:
			t.Errorf("%s refused: %v", addr, err)
		case want != "" && (!errors.As(err, &ae) || ae.Kind != want):
			t.Errorf("%s: %v, want %s", addr, err, want)
		case want != "" && ae.Addr != netip.MustParseAddrPort(addr).Addr().Unmap():
			t.Errorf("%s: error names %s", addr, ae.Addr)
		}
	}
}
