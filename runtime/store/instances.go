package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/pollwire/pollwire/instances"
)

// instanceRow is an instance's raw bytes, copied out of a transaction so
// decoding and decryption happen after it ends.
type instanceRow struct {
	id     int64
	record []byte // JSON without secrets
	sealed []byte // sealed secrets JSON; nil if the instance has none stored
}

// CreateInstance implements Store.
func (b *Bolt) CreateInstance(ctx context.Context, inst *instances.Instance) error {
	if inst == nil {
		return errors.New("store: create instance: nil instance")
	}
	if inst.Token == "" {
		return fmt.Errorf("store: create instance %q: empty token", inst.Name)
	}
	var id int64
	err := b.update(ctx, func(tx *bolt.Tx) error {
		if owner := tx.Bucket(bucketInstanceTokens).Get([]byte(inst.Token)); owner != nil {
			return fmt.Errorf("token already belongs to instance %d: %w", btoi(owner), ErrConflict)
		}
		// The sequence lives in the bucket header and is committed with the
		// transaction: ids survive restarts and a deleted id is never handed
		// out again. A failed transaction rolls it back.
		seq, err := tx.Bucket(bucketInstances).NextSequence()
		if err != nil {
			return err
		}
		id = int64(seq)
		return b.putInstance(tx, id, inst)
	})
	if err != nil {
		return fmt.Errorf("store: create instance %q: %w", inst.Name, err)
	}
	// Set only after commit, so a failed create leaves inst untouched.
	inst.ID = id
	return nil
}

// UpdateInstance implements Store.
func (b *Bolt) UpdateInstance(ctx context.Context, inst *instances.Instance) error {
	if inst == nil {
		return errors.New("store: update instance: nil instance")
	}
	if inst.Token == "" {
		return fmt.Errorf("store: update instance %d: empty token", inst.ID)
	}
	err := b.update(ctx, func(tx *bolt.Tx) error {
		if inst.ID <= 0 {
			return ErrNotFound
		}
		key := itob(uint64(inst.ID))
		old := tx.Bucket(bucketInstances).Get(key)
		if old == nil {
			return ErrNotFound
		}
		oldToken, err := recordToken(old)
		if err != nil {
			return err
		}
		if oldToken != inst.Token {
			tokens := tx.Bucket(bucketInstanceTokens)
			if owner := tokens.Get([]byte(inst.Token)); owner != nil && int64(btoi(owner)) != inst.ID {
				return fmt.Errorf("token already belongs to instance %d: %w", btoi(owner), ErrConflict)
			}
			if err := deleteToken(tokens, oldToken, key); err != nil {
				return err
			}
		}
		return b.putInstance(tx, inst.ID, inst)
	})
	if err != nil {
		return fmt.Errorf("store: update instance %d: %w", inst.ID, err)
	}
	return nil
}

// DeleteInstance implements Store.
func (b *Bolt) DeleteInstance(ctx context.Context, id int64) error {
	err := b.update(ctx, func(tx *bolt.Tx) error {
		if id <= 0 {
			return ErrNotFound
		}
		key := itob(uint64(id))
		insts := tx.Bucket(bucketInstances)
		old := insts.Get(key)
		if old == nil {
			return ErrNotFound
		}
		token, err := recordToken(old)
		if err != nil {
			return err
		}
		if err := deleteToken(tx.Bucket(bucketInstanceTokens), token, key); err != nil {
			return err
		}
		if err := tx.Bucket(bucketInstanceSecrets).Delete(key); err != nil {
			return err
		}
		if err := deleteInstanceData(tx, id); err != nil {
			return err
		}
		return insts.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("store: delete instance %d: %w", id, err)
	}
	return nil
}

// GetInstance implements Store.
func (b *Bolt) GetInstance(ctx context.Context, id int64) (*instances.Instance, error) {
	var row instanceRow
	err := b.view(ctx, func(tx *bolt.Tx) error {
		if id <= 0 {
			return ErrNotFound
		}
		var ok bool
		row, ok = readInstanceRow(tx, itob(uint64(id)))
		if !ok {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: get instance %d: %w", id, err)
	}
	inst, err := b.decodeInstance(row)
	if err != nil {
		return nil, fmt.Errorf("store: get instance %d: %w", id, err)
	}
	return inst, nil
}

// InstanceByToken implements Store.
func (b *Bolt) InstanceByToken(ctx context.Context, token string) (*instances.Instance, error) {
	var row instanceRow
	err := b.view(ctx, func(tx *bolt.Tx) error {
		if token == "" {
			return ErrNotFound
		}
		key := tx.Bucket(bucketInstanceTokens).Get([]byte(token))
		if key == nil {
			return ErrNotFound
		}
		var ok bool
		row, ok = readInstanceRow(tx, key)
		if !ok {
			// The index and the records are written in one transaction, so
			// this means a damaged file, not a race.
			return fmt.Errorf("token index points to missing instance %d", btoi(key))
		}
		return nil
	})
	// The token is a credential: it stays out of error messages.
	if err != nil {
		return nil, fmt.Errorf("store: instance by token: %w", err)
	}
	inst, err := b.decodeInstance(row)
	if err != nil {
		return nil, fmt.Errorf("store: instance by token: instance %d: %w", row.id, err)
	}
	return inst, nil
}

// ListInstances implements Store. The result is never nil, so it encodes as
// a JSON array even when empty.
func (b *Bolt) ListInstances(ctx context.Context) ([]*instances.Instance, error) {
	var rows []instanceRow
	err := b.view(ctx, func(tx *bolt.Tx) error {
		secretsB := tx.Bucket(bucketInstanceSecrets)
		return tx.Bucket(bucketInstances).ForEach(func(k, v []byte) error {
			rows = append(rows, instanceRow{
				id:     int64(btoi(k)),
				record: clone(v),
				sealed: clone(secretsB.Get(k)),
			})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list instances: %w", err)
	}
	out := make([]*instances.Instance, 0, len(rows))
	for _, row := range rows {
		inst, err := b.decodeInstance(row)
		if err != nil {
			return nil, fmt.Errorf("store: list instances: instance %d: %w", row.id, err)
		}
		out = append(out, inst)
	}
	return out, nil
}

// putInstance writes inst under id: the record without secrets, the sealed
// secrets and the token index entry.
func (b *Bolt) putInstance(tx *bolt.Tx, id int64, inst *instances.Instance) error {
	key := itob(uint64(id))
	rec := *inst
	rec.ID = id
	// Secrets must never reach the file in plaintext: clear them from the
	// record rather than rely on the struct tag's omitempty.
	rec.Secrets = nil
	record, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	plain, err := json.Marshal(inst.Secrets)
	if err != nil {
		return fmt.Errorf("encode secrets: %w", err)
	}
	// The id as aad binds the ciphertext to this instance: copied onto
	// another instance's key, it fails to open instead of lending its
	// credentials.
	sealed := b.sealer.Seal(plain, key)
	if err := tx.Bucket(bucketInstances).Put(key, record); err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	if err := tx.Bucket(bucketInstanceSecrets).Put(key, sealed); err != nil {
		return fmt.Errorf("put secrets: %w", err)
	}
	if err := tx.Bucket(bucketInstanceTokens).Put([]byte(inst.Token), key); err != nil {
		return fmt.Errorf("put token index: %w", err)
	}
	return nil
}

// readInstanceRow copies an instance's bytes out of tx.
func readInstanceRow(tx *bolt.Tx, key []byte) (instanceRow, bool) {
	record := tx.Bucket(bucketInstances).Get(key)
	if record == nil {
		return instanceRow{}, false
	}
	return instanceRow{
		id:     int64(btoi(key)),
		record: clone(record),
		sealed: clone(tx.Bucket(bucketInstanceSecrets).Get(key)),
	}, true
}

// decodeInstance turns a row into an instance, decrypting its secrets. A
// wrong master key or a moved ciphertext yields an error wrapping
// secrets.ErrDecrypt.
func (b *Bolt) decodeInstance(row instanceRow) (*instances.Instance, error) {
	inst := new(instances.Instance)
	if err := json.Unmarshal(row.record, inst); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	// The key is the truth for the id, and the sealed value the only source
	// of secrets.
	inst.ID = row.id
	inst.Secrets = nil
	if row.sealed != nil {
		plain, err := b.sealer.Open(row.sealed, itob(uint64(row.id)))
		if err != nil {
			return nil, fmt.Errorf("decrypt secrets: %w", err)
		}
		if err := json.Unmarshal(plain, &inst.Secrets); err != nil {
			return nil, fmt.Errorf("decode secrets: %w", err)
		}
	}
	return inst, nil
}

// recordToken reads the token of a stored record without decoding the rest.
func recordToken(record []byte) (string, error) {
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(record, &r); err != nil {
		return "", fmt.Errorf("decode record: %w", err)
	}
	return r.Token, nil
}

// deleteToken removes token from the index if it still points to key, so a
// stale entry never removes another instance's token.
func deleteToken(tokens *bolt.Bucket, token string, key []byte) error {
	if token == "" {
		return nil
	}
	if owner := tokens.Get([]byte(token)); owner != nil && btoi(owner) == btoi(key) {
		if err := tokens.Delete([]byte(token)); err != nil {
			return fmt.Errorf("delete token index: %w", err)
		}
	}
	return nil
}

// MergeSecrets implements Store: it decrypts, merges and re-seals an
// instance's secrets inside one transaction, so a concurrent admin update
// cannot be overwritten with stale values.
func (b *Bolt) MergeSecrets(ctx context.Context, id int64, secrets map[string]string) error {
	err := b.update(ctx, func(tx *bolt.Tx) error {
		row, ok := readInstanceRow(tx, itob(uint64(id)))
		if !ok {
			return ErrNotFound
		}
		inst, err := b.decodeInstance(row)
		if err != nil {
			return err
		}
		if inst.Secrets == nil {
			inst.Secrets = map[string]string{}
		}
		for k, v := range secrets {
			inst.Secrets[k] = v
		}
		return b.putInstance(tx, id, inst)
	})
	if err != nil {
		return fmt.Errorf("store: merge secrets of instance %d: %w", id, err)
	}
	return nil
}
