package store

import (
	"bytes"
	"context"
	"encoding/json"

	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pollwire/pollwire/runtime/delivery"
)

// Entry is one notification in the outbox and the event log: the delivery
// with what the event log shows about it.
type Entry struct {
	delivery.Delivery
	Resource   string
	EventCount int
}

// row is an Entry as stored, without its body (kept in bucketBodies so that
// recording an attempt never rewrites it).
type row struct {
	InstanceID  int64           `json:"i"`
	EventID     string          `json:"e"`
	URL         string          `json:"u"`
	Resource    string          `json:"r"`
	EventCount  int             `json:"n"`
	Attempts    int             `json:"a"`
	MaxRetries  int             `json:"m"`
	Interval    time.Duration   `json:"iv"`
	NextAttempt time.Time       `json:"na"`
	Status      delivery.Status `json:"s"`
	LastStatus  int             `json:"ls,omitempty"`
	LastError   string          `json:"le,omitempty"`
	CreatedAt   time.Time       `json:"c"`
	DeliveredAt time.Time       `json:"d"`
}

func toRow(e *Entry) row {
	return row{
		InstanceID: e.InstanceID, EventID: e.EventID, URL: e.URL, Resource: e.Resource, EventCount: e.EventCount,
		Attempts: e.Attempts, MaxRetries: e.MaxRetries, Interval: e.Interval, NextAttempt: e.NextAttempt,
		Status: e.Status, LastStatus: e.LastStatus, LastError: e.LastError, CreatedAt: e.CreatedAt, DeliveredAt: e.DeliveredAt,
	}
}

func (r row) entry(seq uint64) Entry {
	return Entry{
		Delivery: delivery.Delivery{
			Seq: seq, InstanceID: r.InstanceID, EventID: r.EventID, URL: r.URL, Attempts: r.Attempts,
			MaxRetries: r.MaxRetries, Interval: r.Interval, NextAttempt: r.NextAttempt, Status: r.Status,
			LastStatus: r.LastStatus, LastError: r.LastError, CreatedAt: r.CreatedAt, DeliveredAt: r.DeliveredAt,
		},
		Resource: r.Resource, EventCount: r.EventCount,
	}
}

func instSeqKey(id int64, seq uint64) []byte {
	k := make([]byte, 16)
	copy(k, itob(uint64(id)))
	copy(k[8:], itob(seq))
	return k
}

// CommitPoll records a poll's outcome in one transaction: the new poller
// state (watermark, seen ids, counters) and the poll's notifications in the
// outbox and the event log. Either all of it is durable or none. It sets
// each entry's Seq. ErrNotFound means the instance was deleted meanwhile.
func (b *Bolt) CommitPoll(ctx context.Context, st PollerState, entries []Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stv, err := json.Marshal(&st)
	if err != nil {
		return err
	}
	rows := make([][]byte, len(entries))
	for i := range entries {
		if rows[i], err = json.Marshal(toRow(&entries[i])); err != nil {
			return err
		}
	}
	// Group commit: concurrent polls share one fsync. The function only
	// assigns sequence numbers and writes, so running it again after a
	// failed batch is safe.
	err = b.db.Batch(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInstances).Get(itob(uint64(st.InstanceID))) == nil {
			return ErrNotFound
		}
		if err := tx.Bucket(bucketPollers).Put(pollerKey(st.InstanceID, st.Resource), stv); err != nil {
			return err
		}
		return putEntries(tx, entries, rows)
	})
	if err != nil {
		return fmt.Errorf("store: commit poll %d/%s: %w", st.InstanceID, st.Resource, err)
	}
	return nil
}

// AppendEntries puts notifications in the outbox without a poller state
// (provider webhooks). ErrNotFound means the instance does not exist.
func (b *Bolt) AppendEntries(ctx context.Context, instanceID int64, entries []Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rows := make([][]byte, len(entries))
	for i := range entries {
		var err error
		if rows[i], err = json.Marshal(toRow(&entries[i])); err != nil {
			return err
		}
	}
	err := b.db.Batch(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketInstances).Get(itob(uint64(instanceID))) == nil {
			return ErrNotFound
		}
		return putEntries(tx, entries, rows)
	})
	if err != nil {
		return fmt.Errorf("store: append events of instance %d: %w", instanceID, err)
	}
	return nil
}

func putEntries(tx *bolt.Tx, entries []Entry, rows [][]byte) error {
	ds := tx.Bucket(bucketDeliveries)
	for i := range entries {
		seq, err := ds.NextSequence()
		if err != nil {
			return err
		}
		entries[i].Seq = seq
		key := itob(seq)
		if err := ds.Put(key, rows[i]); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBodies).Put(key, entries[i].Body); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByInstance).Put(instSeqKey(entries[i].InstanceID, seq), nil); err != nil {
			return err
		}
		if err := tx.Bucket(bucketEventIDs).Put([]byte(entries[i].EventID), key); err != nil {
			return err
		}
		if entries[i].Status == delivery.Pending {
			if err := tx.Bucket(bucketPending).Put(key, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// PendingDeliveries returns every delivery still to be attempted, without
// bodies.
func (b *Bolt) PendingDeliveries(ctx context.Context) ([]delivery.Delivery, error) {
	var out []delivery.Delivery
	err := b.view(ctx, func(tx *bolt.Tx) error {
		ds := tx.Bucket(bucketDeliveries)
		return tx.Bucket(bucketPending).ForEach(func(k, _ []byte) error {
			v := ds.Get(k)
			if v == nil {
				return nil
			}
			var r row
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r.entry(btoi(k)).Delivery)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: pending deliveries: %w", err)
	}
	return out, nil
}

// LoadBody returns the exact bytes of a notification.
func (b *Bolt) LoadBody(ctx context.Context, seq uint64) ([]byte, error) {
	var body []byte
	err := b.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBodies).Get(itob(seq))
		if v == nil {
			return delivery.ErrGone
		}
		body = clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: body of delivery %d: %w", seq, err)
	}
	return body, nil
}

// SaveAttempt records the outcome of a delivery attempt.
func (b *Bolt) SaveAttempt(ctx context.Context, d *delivery.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	seq := d.Seq
	upd := *d
	err := b.db.Batch(func(tx *bolt.Tx) error {
		return updateRow(tx, seq, func(r *row) {
			r.Attempts, r.Status, r.NextAttempt = upd.Attempts, upd.Status, upd.NextAttempt
			r.LastStatus, r.LastError, r.DeliveredAt = upd.LastStatus, upd.LastError, upd.DeliveredAt
		})
	})
	if err != nil {
		return fmt.Errorf("store: save attempt of delivery %d: %w", seq, err)
	}
	return nil
}

func updateRow(tx *bolt.Tx, seq uint64, fn func(*row)) error {
	key := itob(seq)
	ds := tx.Bucket(bucketDeliveries)
	v := ds.Get(key)
	if v == nil {
		return delivery.ErrGone
	}
	var r row
	if err := json.Unmarshal(v, &r); err != nil {
		return err
	}
	fn(&r)
	nv, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := ds.Put(key, nv); err != nil {
		return err
	}
	if r.Status == delivery.Pending {
		return tx.Bucket(bucketPending).Put(key, nil)
	}
	return tx.Bucket(bucketPending).Delete(key)
}

// EntryFilter selects entries of the event log.
type EntryFilter struct {
	Status delivery.Status // "" for all
	Since  time.Time       // created at or after; zero for all
}

// ListEntries returns an instance's notifications, newest first, after
// skipping offset matches and up to limit of them.
func (b *Bolt) ListEntries(ctx context.Context, id int64, f EntryFilter, offset, limit int) ([]Entry, error) {
	var out []Entry
	err := b.view(ctx, func(tx *bolt.Tx) error {
		prefix := itob(uint64(id))
		ds := tx.Bucket(bucketDeliveries)
		c := tx.Bucket(bucketByInstance).Cursor()
		// Walk backwards from the end of this instance's key range.
		k, _ := c.Seek(itob(uint64(id) + 1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			v := ds.Get(k[8:])
			if v == nil {
				continue
			}
			var r row
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if f.Status != "" && r.Status != f.Status {
				continue
			}
			if !f.Since.IsZero() && r.CreatedAt.Before(f.Since) {
				continue
			}
			if offset > 0 {
				offset--
				continue
			}
			if limit >= 0 && len(out) >= limit {
				break
			}
			out = append(out, r.entry(btoi(k[8:])))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: events of instance %d: %w", id, err)
	}
	return out, nil
}

// EntryByEventID returns one notification of an instance with its body.
func (b *Bolt) EntryByEventID(ctx context.Context, id int64, eventID string) (*Entry, error) {
	var e *Entry
	err := b.view(ctx, func(tx *bolt.Tx) error {
		key := tx.Bucket(bucketEventIDs).Get([]byte(eventID))
		if key == nil {
			return ErrNotFound
		}
		v := tx.Bucket(bucketDeliveries).Get(key)
		if v == nil {
			return ErrNotFound
		}
		var r row
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		if r.InstanceID != id {
			return ErrNotFound
		}
		en := r.entry(btoi(key))
		en.Body = clone(tx.Bucket(bucketBodies).Get(key))
		e = &en
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: event %s of instance %d: %w", eventID, id, err)
	}
	return e, nil
}

// ResetForRetry makes failed deliveries of an instance pending again with
// their attempt count reset and the next attempt at now; eventID "" selects
// every failed delivery created at or after since. It returns the reset
// deliveries (without bodies). A named delivery that is not failed is left
// as it is and is not returned.
func (b *Bolt) ResetForRetry(ctx context.Context, id int64, eventID string, since, now time.Time) ([]delivery.Delivery, error) {
	var out []delivery.Delivery
	err := b.update(ctx, func(tx *bolt.Tx) error {
		var keys [][]byte
		if eventID != "" {
			key := tx.Bucket(bucketEventIDs).Get([]byte(eventID))
			if key == nil {
				return ErrNotFound
			}
			keys = append(keys, clone(key))
		} else {
			keys = instanceSeqs(tx, id)
		}
		ds := tx.Bucket(bucketDeliveries)
		for _, key := range keys {
			v := ds.Get(key)
			if v == nil {
				continue
			}
			var r row
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if r.InstanceID != id {
				if eventID != "" {
					return ErrNotFound
				}
				continue
			}
			if r.Status != delivery.Failed || r.CreatedAt.Before(since) {
				continue
			}
			if err := updateRow(tx, btoi(key), func(r *row) {
				r.Status, r.Attempts, r.NextAttempt, r.LastError, r.LastStatus = delivery.Pending, 0, now, "", 0
			}); err != nil {
				return err
			}
			r.Status, r.Attempts, r.NextAttempt, r.LastError, r.LastStatus = delivery.Pending, 0, now, "", 0
			out = append(out, r.entry(btoi(key)).Delivery)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: retry deliveries of instance %d: %w", id, err)
	}
	return out, nil
}

// PruneEntries removes delivered notifications created before cutoff from
// the event log, at most max of them per call (so one call never holds the
// write lock for long). Failed and pending ones are kept. It returns how
// many it removed.
func (b *Bolt) PruneEntries(ctx context.Context, cutoff time.Time, max int) (int, error) {
	n := 0
	err := b.update(ctx, func(tx *bolt.Tx) error {
		ds := tx.Bucket(bucketDeliveries)
		c := ds.Cursor()
		var del [][]byte
		var rows []row
		for k, v := c.First(); k != nil && len(del) < max; k, v = c.Next() {
			var r row
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if !r.CreatedAt.Before(cutoff) {
				break // sequence order is creation order
			}
			if r.Status != delivery.Delivered {
				continue
			}
			del = append(del, clone(k))
			rows = append(rows, r)
		}
		for i, k := range del {
			if err := deleteEntry(tx, k, rows[i]); err != nil {
				return err
			}
		}
		n = len(del)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune event log: %w", err)
	}
	return n, nil
}

func deleteEntry(tx *bolt.Tx, key []byte, r row) error {
	for _, op := range []struct {
		b []byte
		k []byte
	}{
		{bucketDeliveries, key}, {bucketBodies, key}, {bucketPending, key},
		{bucketByInstance, instSeqKey(r.InstanceID, btoi(key))}, {bucketEventIDs, []byte(r.EventID)},
	} {
		if err := tx.Bucket(op.b).Delete(op.k); err != nil {
			return err
		}
	}
	return nil
}

// deleteInstanceData removes an instance's pollers and notifications; part
// of DeleteInstance's transaction.
func deleteInstanceData(tx *bolt.Tx, id int64) error {
	prefix := itob(uint64(id))
	if err := deletePrefix(tx.Bucket(bucketPollers), prefix); err != nil {
		return err
	}
	ds := tx.Bucket(bucketDeliveries)
	for _, key := range instanceSeqs(tx, id) {
		v := ds.Get(key)
		if v == nil {
			continue
		}
		var r row
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		if err := deleteEntry(tx, key, r); err != nil {
			return err
		}
	}
	return nil
}

var _ delivery.Store = (*Bolt)(nil)

// instanceSeqs returns the outbox keys of an instance's notifications, in
// sequence order, copied out of the transaction's pages.
func instanceSeqs(tx *bolt.Tx, id int64) [][]byte {
	prefix := itob(uint64(id))
	var keys [][]byte
	c := tx.Bucket(bucketByInstance).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, clone(k[8:]))
	}
	return keys
}
