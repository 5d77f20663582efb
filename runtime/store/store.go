package store

import (
	"context"
	"time"

	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/delivery"
)

// Store is pollwire's persistent state. Implementations are safe for
// concurrent use.
//
// The engine depends on this interface only, so the embedded bbolt store and
// a later shared PostgreSQL store are interchangeable. Methods check ctx
// before they start work. Instances passed in are not retained and instances
// returned are the caller's to modify.
type Store interface {
	// CreateInstance stores a new instance and sets inst.ID. Ids start at 1,
	// grow and are never reused, even after a delete. The token must not
	// belong to another instance, else ErrConflict.
	CreateInstance(ctx context.Context, inst *instances.Instance) error
	// UpdateInstance replaces the stored instance with the same ID, or
	// returns ErrNotFound. A changed token must not belong to another
	// instance, else ErrConflict.
	UpdateInstance(ctx context.Context, inst *instances.Instance) error
	// DeleteInstance removes an instance and its token, or returns
	// ErrNotFound.
	DeleteInstance(ctx context.Context, id int64) error
	// GetInstance returns the instance with its secrets, or ErrNotFound.
	GetInstance(ctx context.Context, id int64) (*instances.Instance, error)
	// InstanceByToken returns the instance with its secrets, or ErrNotFound.
	InstanceByToken(ctx context.Context, token string) (*instances.Instance, error)
	// ListInstances returns all instances with their secrets, by id.
	ListInstances(ctx context.Context) ([]*instances.Instance, error)
	// MergeSecrets sets some secrets of an instance (rotated credentials)
	// in one transaction, keeping the others; ErrNotFound when it is gone.
	MergeSecrets(ctx context.Context, id int64, secrets map[string]string) error
	// GetMeta returns a daemon setting stored by PutMeta, or ErrNotFound.
	GetMeta(ctx context.Context, key string) ([]byte, error)
	// PutMeta stores a small daemon setting, such as the hash of an admin
	// secret, replacing any previous value.
	PutMeta(ctx context.Context, key string, value []byte) error

	// ListPollerStates returns the stored states of an instance's pollers.
	ListPollerStates(ctx context.Context, id int64) ([]PollerState, error)
	// SavePollerStates stores poller states of existing instances, through
	// group commit.
	SavePollerStates(ctx context.Context, states []PollerState) error
	// CommitPoll stores a poll's new state and its notifications in one
	// transaction, setting each entry's Seq; ErrNotFound if the instance is
	// gone.
	CommitPoll(ctx context.Context, st PollerState, entries []Entry) error
	// AppendEntries puts notifications in the outbox without a poller state.
	AppendEntries(ctx context.Context, instanceID int64, entries []Entry) error
	// ListEntries returns an instance's notifications, newest first.
	ListEntries(ctx context.Context, id int64, f EntryFilter, offset, limit int) ([]Entry, error)
	// EntryByEventID returns one notification with its body.
	EntryByEventID(ctx context.Context, id int64, eventID string) (*Entry, error)
	// ResetForRetry makes failed deliveries pending again.
	ResetForRetry(ctx context.Context, id int64, eventID string, since, now time.Time) ([]delivery.Delivery, error)
	// PruneEntries drops delivered notifications created before cutoff.
	PruneEntries(ctx context.Context, cutoff time.Time, max int) (int, error)
	// The delivery dispatcher's view of the outbox.
	delivery.Store

	// Close releases the store. Other methods must not be called after it.
	Close() error
}

var _ Store = (*Bolt)(nil)
