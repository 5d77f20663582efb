package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PollerState is what survives restarts of one (instance, resource) poller.
type PollerState struct {
	InstanceID int64     `json:"instanceId"`
	Resource   string    `json:"resource"`
	Watermark  time.Time `json:"watermark"`
	// Seen maps object ids to the updated date (unix ns) of the change last
	// reported, for records inside the lookback window: what makes the
	// overlap of two poll windows free of duplicate events.
	Seen        map[string]int64 `json:"seen,omitempty"`
	LastRun     time.Time        `json:"lastRun"`
	LastSuccess time.Time        `json:"lastSuccess"`
	LastError   string           `json:"lastError,omitempty"`
	LastErrorAt time.Time        `json:"lastErrorAt"`
	Polls       int64            `json:"polls"`
	Failures    int64            `json:"failures"`
	Events      int64            `json:"events"`
	Skips       int64            `json:"skips"`
}

func pollerKey(id int64, resource string) []byte {
	k := make([]byte, 8, 8+len(resource))
	copy(k, itob(uint64(id)))
	return append(k, resource...)
}

// ListPollerStates returns the stored states of an instance's pollers.
func (b *Bolt) ListPollerStates(ctx context.Context, id int64) ([]PollerState, error) {
	var out []PollerState
	err := b.view(ctx, func(tx *bolt.Tx) error {
		prefix := itob(uint64(id))
		c := tx.Bucket(bucketPollers).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var st PollerState
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("poller %q: %w", k[8:], err)
			}
			out = append(out, st)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list pollers of instance %d: %w", id, err)
	}
	return out, nil
}

// SavePollerStates stores poller states whose instance still exists (a
// state of a deleted instance is dropped). It goes through bbolt's group
// commit, so many small saves share one fsync.
func (b *Bolt) SavePollerStates(ctx context.Context, states []PollerState) error {
	if len(states) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Encode outside the transaction: the batch may run fn more than once.
	enc := make([][]byte, len(states))
	for i := range states {
		v, err := json.Marshal(&states[i])
		if err != nil {
			return err
		}
		enc[i] = v
	}
	err := b.db.Batch(func(tx *bolt.Tx) error {
		insts := tx.Bucket(bucketInstances)
		ps := tx.Bucket(bucketPollers)
		for i, st := range states {
			if insts.Get(itob(uint64(st.InstanceID))) == nil {
				continue
			}
			if err := ps.Put(pollerKey(st.InstanceID, st.Resource), enc[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save poller states: %w", err)
	}
	return nil
}

// deletePrefix removes every key of bucket b starting with prefix.
func deletePrefix(bk *bolt.Bucket, prefix []byte) error {
	c := bk.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := bk.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
