package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// reservedMeta are meta keys the store itself uses; PutMeta refuses them so
// a daemon setting cannot overwrite the schema version.
var reservedMeta = map[string]bool{
	string(keySchemaVersion): true,
	string(keyCheck):         true,
}

// GetMeta implements Store. An empty value stored by PutMeta comes back as
// an empty, non-nil slice.
func (b *Bolt) GetMeta(ctx context.Context, key string) ([]byte, error) {
	var value []byte
	err := b.view(ctx, func(tx *bolt.Tx) error {
		// Seek rather than Get: bbolt's Get cannot tell an empty value from
		// a missing key.
		k, v := tx.Bucket(bucketMeta).Cursor().Seek([]byte(key))
		if key == "" || !bytes.Equal(k, []byte(key)) {
			return ErrNotFound
		}
		value = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: get meta %q: %w", key, err)
	}
	return value, nil
}

// PutMeta implements Store.
func (b *Bolt) PutMeta(ctx context.Context, key string, value []byte) error {
	err := b.update(ctx, func(tx *bolt.Tx) error {
		if key == "" {
			return errors.New("empty key")
		}
		if reservedMeta[key] {
			return errors.New("key is reserved for the store")
		}
		// Copy: bbolt keeps the slice until commit and the caller may reuse it.
		return tx.Bucket(bucketMeta).Put([]byte(key), append([]byte{}, value...))
	})
	if err != nil {
		return fmt.Errorf("store: put meta %q: %w", key, err)
	}
	return nil
}
