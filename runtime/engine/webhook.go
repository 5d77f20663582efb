package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/scheduler"
	"github.com/pollwire/pollwire/runtime/store"
)

// Webhook notifications carry at most this many events (SPEC §5), fewer
// when the instance's batch size is smaller.
const maxWebhookBatch = 20

// webhookMemory is how long a webhook-only resource remembers the changes
// it delivered, so a vendor's retry of a push whose answer was lost is not
// delivered twice (Close retries for 72 hours).
const webhookMemory = 72 * time.Hour

// KeySubscriptionID names the stored secret holding the vendor's id of the
// webhook subscription pollwire registered.
const KeySubscriptionID = "event.webhook.subscription.id"

// AcceptWebhook records pushed changes of an instance: it drops the ones
// already delivered (by the poller or an earlier push), commits the rest to
// the outbox together with the resource's seen ids, and hands them to
// delivery. It returns how many events it queued. An error means nothing
// was queued and the vendor should retry.
func (e *Engine) AcceptWebhook(ctx context.Context, inst *instances.Instance, s *instances.Settings, changes []source.Change) (int, error) {
	byRes := map[string][]source.Change{}
	for _, c := range changes {
		byRes[c.Resource] = append(byRes[c.Resource], c)
	}
	resources := make([]string, 0, len(byRes))
	for r := range byRes {
		resources = append(resources, r)
	}
	sort.Strings(resources)
	queued := 0
	for _, res := range resources {
		n, err := e.acceptResource(ctx, inst, s, res, byRes[res])
		queued += n
		if err != nil {
			return queued, err
		}
	}
	return queued, nil
}

func (e *Engine) acceptResource(ctx context.Context, inst *instances.Instance, s *instances.Settings, res string, cs []source.Change) (int, error) {
	key := scheduler.Key{Instance: inst.ID, Resource: res}
	prt, polled := e.dedupeState(key, inst)
	prt.commitMu.Lock()
	defer prt.commitMu.Unlock()
	prt.mu.Lock()
	st := cloneState(prt.state)
	prt.mu.Unlock()
	if st.Seen == nil {
		st.Seen = map[string]int64{}
	}
	now := e.cfg.Clock.Now()
	var events []Event
	for _, c := range cs {
		if c.ObjectID == "" {
			continue
		}
		k := c.ObjectID
		if c.Type == Deleted {
			k = deletedKey(c.ObjectID)
		}
		if !c.Date.IsZero() {
			// Pushes arrive out of order (vendors retry), so a push is a
			// repeat only when this exact (id, date) was delivered — by an
			// earlier push or by the poller — not when a newer one was.
			d := c.Date.UnixNano()
			exact := exactKey(k, d)
			if _, dup := st.Seen[exact]; dup || st.Seen[k] == d {
				continue
			}
			st.Seen[exact] = d
			if st.Seen[k] < d {
				st.Seen[k] = d // what the poller compares against
			}
		}
		date := c.Date
		if date.IsZero() {
			date = now
		}
		events = append(events, Event{Type: c.Type, ObjectID: c.ObjectID, Date: date, Raw: c.Raw})
	}
	if !polled {
		pruneSeen(&st, now.Add(-webhookMemory))
	}
	if len(events) == 0 {
		return 0, nil
	}
	ws := *s
	if ws.BatchSize <= 0 || ws.BatchSize > maxWebhookBatch {
		ws.BatchSize = maxWebhookBatch
	}
	entries, err := BuildEntries(inst, &ws, res, events, now)
	if err != nil {
		return 0, err
	}
	st.Events += int64(len(events))
	if err := e.cfg.Store.CommitPoll(ctx, st, entries); err != nil {
		return 0, fmt.Errorf("webhook %d/%s: %w", inst.ID, res, err)
	}
	prt.mu.Lock()
	prt.state = st
	prt.mu.Unlock()
	for _, ev := range events {
		e.metrics.events.WithLabelValues(ev.Type).Inc()
	}
	e.metrics.notifications.Add(float64(len(entries)))
	if e.cfg.Outbox != nil {
		ds := make([]delivery.Delivery, len(entries))
		for i := range entries {
			ds[i] = entries[i].Delivery
		}
		e.cfg.Outbox.Enqueue(ds...)
	}
	return len(events), nil
}

// dedupeState returns the seen-ids holder of a resource: its poller's when
// it is polled (hybrid mode), else a webhook-only one loaded from the store
// on first use.
func (e *Engine) dedupeState(key scheduler.Key, inst *instances.Instance) (*pollerRT, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.pollers[key]; ok {
		return p, true
	}
	if p, ok := e.hooks[key]; ok {
		return p, false
	}
	p := &pollerRT{class: inst.ConnectorKey, state: store.PollerState{InstanceID: key.Instance, Resource: key.Resource}}
	if st, ok := e.loadStates(key.Instance)[key.Resource]; ok {
		p.state = st
	}
	e.hooks[key] = p
	return p, false
}

// exactKey remembers one pushed (id, date) pair among the seen ids.
func exactKey(k string, d int64) string { return k + "\x00" + strconv.FormatInt(d, 10) }

// IntakePath is the path a vendor pushes an instance's changes to.
func IntakePath(connectorKey string, id int64) string {
	return "/elements/api-v2/events/" + connectorKey + "/" + base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// ParseIntakeID reads the base64(instance id) of an intake path; padded or
// not, standard or URL alphabet.
func ParseIntakeID(s string) (int64, error) {
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			id, err := strconv.ParseInt(string(b), 10, 64)
			if err == nil && id > 0 {
				return id, nil
			}
		}
	}
	return 0, errors.New("not base64 of an instance id")
}

// subscribe registers pollwire's intake URL with the vendor for an
// instance that wants webhooks and has no subscription yet, retrying with
// backoff until it succeeds or the instance changes.
func (e *Engine) subscribe(inst *instances.Instance, s *instances.Settings) {
	sub, ok := e.cfg.Subscribers[inst.ConnectorKey]
	if !ok || !s.Webhooks() || inst.Disabled || e.cfg.PublicURL == "" {
		return
	}
	if v, _ := inst.Value(KeySubscriptionID); v != "" {
		return
	}
	ctx := e.bg
	if ctx == nil {
		return
	}
	go func() {
		backoff := time.Second
		for attempt := 1; ; attempt++ {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			secrets, err := sub.Subscribe(cctx, &source.SubscribeRequest{
				Instance: inst, Settings: s, Client: e.cfg.VendorClient,
				CallbackURL: strings.TrimRight(e.cfg.PublicURL, "/") + IntakePath(inst.ConnectorKey, inst.ID),
			})
			cancel()
			if err == nil {
				if err := e.saveSecrets(ctx, inst.ID, secrets); err != nil {
					e.cfg.Logger.Error("webhook subscription made but not stored", "instance", inst.ID, "err", err)
				} else {
					e.cfg.Logger.Info("webhook subscription registered with the vendor", "instance", inst.ID, "connector", inst.ConnectorKey)
				}
				return
			}
			e.cfg.Logger.Warn("webhook subscription failed; retrying", "instance", inst.ID, "attempt", attempt, "in", backoff, "err", err)
			t := e.cfg.Clock.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
			if backoff < 10*time.Minute {
				backoff *= 2
			}
			e.mu.RLock()
			cur, live := e.instances[inst.ID]
			e.mu.RUnlock()
			if !live || cur.inst.UpdatedAt != inst.UpdatedAt {
				return // deleted or changed: the newer Apply decides
			}
		}
	}()
}

// unsubscribe removes the vendor subscription of a deleted instance, best
// effort: the instance is gone either way.
func (e *Engine) unsubscribe(inst *instances.Instance, s *instances.Settings) {
	sub, ok := e.cfg.Subscribers[inst.ConnectorKey]
	if !ok {
		return
	}
	if v, _ := inst.Value(KeySubscriptionID); v == "" {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sub.Unsubscribe(ctx, &source.SubscribeRequest{Instance: inst, Settings: s, Client: e.cfg.VendorClient}); err != nil {
			e.cfg.Logger.Warn("removing the vendor's webhook subscription failed; remove it by hand", "instance", inst.ID, "err", err)
		}
	}()
}
