package delivery

import "errors"

var (
	// ErrGone is returned by a Store when the delivery no longer exists
	// (its instance was deleted): the dispatcher drops it.
	ErrGone = errors.New("delivery: delivery no longer exists")

	// ErrPrivateAddress is returned (inside an *AddressError naming the
	// address) when a client from NewClient(false) is asked to connect to a
	// loopback, private, link-local or otherwise non-public address.
	ErrPrivateAddress = errors.New("delivery: callback address is not public")

	// ErrInvalidKey is returned by CheckKey when a signature key has the
	// whsec_ form but what follows is not base64, so no Standard Webhooks
	// consumer could verify what pollwire signs with it.
	ErrInvalidKey = errors.New("delivery: a whsec_ signature key must be whsec_ followed by base64")

	// ErrStopped is returned by Start when the dispatcher was stopped.
	ErrStopped = errors.New("delivery: dispatcher stopped")

	// ErrStarted is returned by Start when the dispatcher already started.
	ErrStarted = errors.New("delivery: dispatcher already started")
)
