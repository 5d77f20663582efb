package delivery

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// NewClient returns the HTTP client that posts notifications. Unless
// allowPrivate, it refuses at connect time to reach loopback, private,
// link-local, CGNAT, unspecified, broadcast and multicast addresses. The
// check runs on the address actually dialled, after DNS resolution, so a
// public-looking name that resolves to 127.0.0.1 (or is rebound to it
// between validation and delivery) is caught as well.
//
// The client ignores proxy settings from the environment (a proxy would
// dial for us and defeat the check) and does not follow redirects: a
// callback answering 3xx has not accepted the notification, and following a
// 301/302 would turn the POST into a body-less GET. It sets no overall
// timeout; the dispatcher bounds each attempt with Config.Timeout.
func NewClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refusePrivate
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    8, // matches the default per-URL concurrency
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// AddressError is the error of a refused connection to a non-public
// address. It matches ErrPrivateAddress with errors.Is.
type AddressError struct {
	Addr netip.Addr
	Kind string // "loopback", "private", …
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("callback address %s is %s, refused: set POLLWIRE_ALLOW_PRIVATE_CALLBACKS=true to allow", e.Addr, e.Kind)
}

// Unwrap makes errors.Is(err, ErrPrivateAddress) hold.
func (e *AddressError) Unwrap() error { return ErrPrivateAddress }

var (
	cgnat       = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8") // Linux connects 0.x to the local host
	broadcast   = netip.MustParseAddr("255.255.255.255")
)

// refusePrivate is a net.Dialer.Control: it sees the resolved address of
// every connection attempt, including each address Happy Eyeballs tries.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("callback address %q: %w", address, err)
	}
	ip := ap.Addr().Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if kind := addressKind(ip); kind != "" {
		return &AddressError{Addr: ip, Kind: kind}
	}
	return nil
}

// addressKind names why ip is not a public unicast address, "" when it is.
func addressKind(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsUnspecified(), thisNetwork.Contains(ip):
		return "unspecified"
	case ip.IsMulticast(), ip == broadcast:
		return "multicast or broadcast"
	case cgnat.Contains(ip):
		return "carrier-grade NAT (shared)"
	}
	return ""
}
