// Package store keeps pollwire's persistent state behind the Store interface.
// Bolt, the embedded implementation, is the only code in pollwire that knows
// about bbolt.
//
// Layout of the bbolt file (ids are 8-byte big-endian, so keys sort by id):
//
//	meta               schema_version → 8-byte version; other keys: PutMeta settings
//	instances          id → instance JSON without its secrets
//	instance_secrets   id → instance secrets JSON, sealed with aad = id
//	instance_tokens    token → id
//	pollers            id + resource → poller state JSON (watermark, seen ids, counters)
//	deliveries         seq → notification row JSON (outbox and event log)
//	delivery_bodies    seq → the exact notification body
//	deliveries_by_instance  id + seq → nil
//	event_ids          eventId → seq
//	pending            seq → nil, for every delivery still to attempt
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/pollwire/pollwire/runtime/secrets"
)

// DefaultLockTimeout is how long Open waits for the file lock before
// deciding another process owns the store. Short, so a second daemon on the
// same data directory fails at once instead of hanging.
const DefaultLockTimeout = 2 * time.Second

var (
	bucketMeta            = []byte("meta")
	bucketInstances       = []byte("instances")
	bucketInstanceSecrets = []byte("instance_secrets")
	bucketInstanceTokens  = []byte("instance_tokens")
	bucketPollers         = []byte("pollers")
	bucketDeliveries      = []byte("deliveries")
	bucketBodies          = []byte("delivery_bodies")
	bucketByInstance      = []byte("deliveries_by_instance")
	bucketEventIDs        = []byte("event_ids")
	bucketPending         = []byte("pending")
)

// allBuckets is every top-level bucket of the current schema. Open checks
// they all exist once migrations have run, so methods can use tx.Bucket
// without nil checks. A new bucket goes here and into a new migration.
var allBuckets = [][]byte{
	bucketMeta,
	bucketInstances,
	bucketInstanceSecrets,
	bucketInstanceTokens,
	bucketPollers,
	bucketDeliveries,
	bucketBodies,
	bucketByInstance,
	bucketEventIDs,
	bucketPending,
}

var keySchemaVersion = []byte("schema_version")

// migrations[v] upgrades a file from schema version v to v+1; a fresh file
// is version 0 and runs them all. Open runs the missing ones in order, in
// one transaction with the version bump, so a crash leaves the file at its
// old version. Append only: never edit a migration that has shipped.
var migrations = []func(tx *bolt.Tx) error{
	// 0 → 1: instances, their sealed secrets and the token index.
	func(tx *bolt.Tx) error {
		return createBuckets(tx, bucketInstances, bucketInstanceSecrets, bucketInstanceTokens)
	},
	// 1 → 2: the engine's poller states, and the outbox / event log with its
	// indexes (by instance, by event id, pending).
	func(tx *bolt.Tx) error {
		return createBuckets(tx, bucketPollers, bucketDeliveries, bucketBodies, bucketByInstance, bucketEventIDs, bucketPending)
	},
}

// schemaVersion is the version this binary writes.
var schemaVersion = uint64(len(migrations))

// Bolt is the embedded Store, one bbolt file with an exclusive lock.
type Bolt struct {
	db     *bolt.DB
	sealer *secrets.Sealer
	path   string
}

// Option configures Open.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long Open waits for another process to release
// the file. A non-positive d keeps DefaultLockTimeout: waiting forever would
// hang a second daemon silently.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTimeout = d
		}
	}
}

// Open opens or creates the store file at path (mode 0600, parent directory
// created 0700 if missing) and brings its schema up to date. Secrets are
// sealed and opened with sealer. If another process has the file open, Open
// fails after the lock timeout with an error wrapping ErrLocked.
func Open(path string, sealer *secrets.Sealer, opts ...Option) (*Bolt, error) {
	if sealer == nil {
		return nil, errors.New("store: open: nil sealer")
	}
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("store: data directory %s is in use by another pollwire process (%s stayed locked for %s): %w",
				dir, path, o.lockTimeout, ErrLocked)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return checkKey(tx, sealer) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Bolt{db: db, sealer: sealer, path: path}, nil
}

var (
	keyCheck      = []byte("key_check")
	keyCheckValue = []byte("pollwire master key check")
)

// checkKey refuses a master key other than the one the file was first
// opened with: a sealed check value written at the first open must open
// again. Without it a wrong POLLWIRE_MASTER_KEY would start a daemon that
// fails at every poll instead of at once.
func checkKey(tx *bolt.Tx, sealer *secrets.Sealer) error {
	meta := tx.Bucket(bucketMeta)
	sealed := meta.Get(keyCheck)
	if sealed == nil {
		return meta.Put(keyCheck, sealer.Seal(keyCheckValue, keyCheck))
	}
	if _, err := sealer.Open(sealed, keyCheck); err != nil {
		return fmt.Errorf("the master key is not the one this data directory was created with (check POLLWIRE_MASTER_KEY or master.key): %w", ErrWrongKey)
	}
	return nil
}

// Close releases the file and its lock.
func (b *Bolt) Close() error {
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", b.path, err)
	}
	return nil
}

// initSchema migrates the file to schemaVersion and checks the result.
func initSchema(tx *bolt.Tx) error {
	if err := migrate(tx, migrations); err != nil {
		return err
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("schema version %d has no bucket %q: missing migration or damaged file", schemaVersion, name)
		}
	}
	return nil
}

// migrate runs the steps of table the file has not seen yet and records the
// new version. It takes the table as an argument so tests can exercise an
// upgrade.
func migrate(tx *bolt.Tx, table []func(*bolt.Tx) error) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return fmt.Errorf("create bucket %q: %w", bucketMeta, err)
	}
	var have uint64
	if v := meta.Get(keySchemaVersion); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("schema version is %d bytes, want 8: damaged file", len(v))
		}
		have = btoi(v)
	}
	want := uint64(len(table))
	switch {
	case have > want:
		return fmt.Errorf("file has schema version %d, this pollwire knows up to %d; run a newer pollwire or restore a backup: %w",
			have, want, ErrSchemaTooNew)
	case have == want:
		return nil
	}
	for v := have; v < want; v++ {
		if err := table[v](tx); err != nil {
			return fmt.Errorf("migrate schema %d → %d: %w", v, v+1, err)
		}
	}
	if err := meta.Put(keySchemaVersion, itob(want)); err != nil {
		return fmt.Errorf("write schema version: %w", err)
	}
	return nil
}

func createBuckets(tx *bolt.Tx, names ...[]byte) error {
	for _, name := range names {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// view runs fn in a read transaction unless ctx is already done. bbolt
// transactions cannot be interrupted, so ctx is honoured only before one
// starts.
func (b *Bolt) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.View(fn)
}

// update runs fn in a write transaction unless ctx is already done. It does
// not use db.Batch, which may run fn twice: callers' functions are not
// idempotent (NextSequence).
func (b *Bolt) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.Update(fn)
}

// itob encodes v as 8 bytes big-endian, so keys sort numerically.
func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// btoi decodes a key made by itob.
func btoi(b []byte) uint64 {
	return binary.BigEndian.Uint64(b)
}

// clone copies a value out of a transaction: bbolt's slices point into the
// memory map and are invalid once the transaction ends. A nil input stays
// nil, so "absent" survives the copy.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
