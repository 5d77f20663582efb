package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/scheduler"
	"github.com/pollwire/pollwire/runtime/store"
)

// Event types.
const (
	Created = "CREATED"
	Updated = "UPDATED"
	Deleted = "DELETED"
)

// change is one event found by a poll.
type change struct {
	typ  string
	id   string
	date time.Time
	raw  []byte
}

// ErrRecord is wrapped by errors about a vendor record the poller cannot
// read (no id, no date, a date in another format).
var ErrRecord = errors.New("unreadable record")

func (e *Engine) lookup(key scheduler.Key) (*instanceRT, *pollerRT) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.instances[key.Instance], e.pollers[key]
}

// runPoll is one run of a poller: the scheduler guarantees it never runs
// twice at once for the same key.
func (e *Engine) runPoll(ctx context.Context, key scheduler.Key, due time.Time) {
	rt, prt := e.lookup(key)
	if rt == nil || prt == nil {
		return
	}
	p, ok := rt.settings.Poller(key.Resource)
	if !ok {
		return
	}
	start := e.cfg.Clock.Now()
	e.mu.RLock()
	paused := e.pauses[key.Instance].until.After(start)
	e.mu.RUnlock()
	if paused {
		// The vendor's quota is spent: no call until it resets.
		e.metrics.polls.WithLabelValues("paused").Inc()
		return
	}
	entries, n, err := e.poll(ctx, rt, p, prt, start)
	outcome := "success"
	var pe *source.PausedError
	switch {
	case err == nil:
	case errors.As(err, &pe):
		e.mu.Lock()
		e.pauses[key.Instance] = pause{until: pe.Until, reason: pe.Reason}
		e.mu.Unlock()
		e.metrics.polls.WithLabelValues("paused").Inc()
		prt.mu.Lock()
		prt.state.LastRun, prt.state.LastError, prt.state.LastErrorAt = start, err.Error(), start
		prt.dirty = true
		prt.mu.Unlock()
		e.cfg.Logger.Warn("vendor quota spent; instance paused", "instance", key.Instance, "until", pe.Until, "reason", pe.Reason)
		return
	case ctx.Err() != nil:
		// Shutting down or the instance went away: not the vendor's fault,
		// and the old watermark stays.
		e.metrics.polls.WithLabelValues("cancelled").Inc()
		return
	case source.IsRateLimited(err):
		outcome = "throttled"
	default:
		outcome = "error"
	}
	e.metrics.polls.WithLabelValues(outcome).Inc()
	e.metrics.pollDuration.Observe(e.cfg.Clock.Now().Sub(start).Seconds())

	prt.mu.Lock()
	defer prt.mu.Unlock()
	if err != nil {
		prt.state.LastRun = start
		prt.state.Polls++
		prt.state.Failures++
		prt.state.LastError = err.Error()
		prt.state.LastErrorAt = start
		prt.dirty = true
		e.cfg.Logger.Warn("poll failed", "instance", key.Instance, "resource", key.Resource, "outcome", outcome, "err", err)
		return
	}
	if len(entries) == 0 {
		return
	}
	e.metrics.notifications.Add(float64(len(entries)))
	if e.cfg.Outbox != nil {
		ds := make([]delivery.Delivery, len(entries))
		for i := range entries {
			ds[i] = entries[i].Delivery
		}
		e.cfg.Outbox.Enqueue(ds...)
	}
	e.cfg.Logger.Debug("poll found changes", "instance", key.Instance, "resource", key.Resource, "events", n, "notifications", len(entries))
}

// poll fetches, decides and commits. The fetch runs unlocked; deciding and
// committing hold the poller's commit lock, shared with webhook intake, so
// a change pushed by the vendor while the poll fetched is seen by one of
// them first and delivered once. On success prt.state holds the new state.
func (e *Engine) poll(ctx context.Context, rt *instanceRT, p *instances.Poller, prt *pollerRT, now time.Time) ([]store.Entry, int, error) {
	src, ok := e.cfg.Sources[rt.inst.ConnectorKey]
	if !ok {
		return nil, 0, fmt.Errorf("the %s connector cannot poll in this version of pollwire", rt.inst.ConnectorKey)
	}
	// Only polls move the watermark, and the scheduler runs one poll of a
	// poller at a time, so it cannot change before the commit below.
	prt.mu.Lock()
	prevW := prt.state.Watermark
	prt.mu.Unlock()
	since := prevW.Add(-p.PollDelay - p.Lookback)
	pctx, cancel := context.WithTimeout(ctx, e.cfg.PollTimeout)
	defer cancel()
	var records []source.Record
	err := src.Poll(pctx, &source.Request{
		Instance: rt.inst, Settings: rt.settings, Poller: p,
		Since: since, Now: now, ServerLocation: e.cfg.ServerLocation, Client: e.cfg.VendorClient,
		SaveSecrets: func(ctx context.Context, m map[string]string) error { return e.saveSecrets(ctx, rt.inst.ID, m) },
	}, func(r source.Record) error {
		records = append(records, r)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("poll %d/%s: %w", rt.inst.ID, p.Resource, err)
	}

	prt.commitMu.Lock()
	defer prt.commitMu.Unlock()
	prt.mu.Lock()
	st := cloneState(prt.state)
	prt.mu.Unlock()
	changes, err := decide(p, &st, records, since, prevW, now)
	if err != nil {
		return nil, 0, fmt.Errorf("poll %d/%s: %w", rt.inst.ID, p.Resource, err)
	}

	// The watermark moves to the poll's start; the lookback re-reads the
	// edge on the next poll, and the seen ids keep that free of duplicates.
	if now.After(st.Watermark) {
		st.Watermark = now
	}
	pruneSeen(&st, st.Watermark.Add(-p.PollDelay-p.Lookback))
	st.LastRun, st.LastSuccess, st.LastError, st.LastErrorAt = now, now, "", time.Time{}
	st.Polls++
	st.Events += int64(len(changes))
	var entries []store.Entry
	if len(changes) > 0 {
		entries, err = e.notifications(rt, p.Resource, changes, now)
		if err != nil {
			return nil, 0, err
		}
		if err := e.cfg.Store.CommitPoll(ctx, st, entries); err != nil {
			return nil, 0, fmt.Errorf("poll %d/%s: %w", rt.inst.ID, p.Resource, err)
		}
		for _, c := range changes {
			e.metrics.events.WithLabelValues(c.typ).Inc()
		}
	}
	prt.mu.Lock()
	prt.state = st
	// A poll that found nothing is persisted by the next flush; one that
	// committed is durable already.
	prt.dirty = len(entries) == 0
	prt.mu.Unlock()
	return entries, len(changes), nil
}

// pruneSeen forgets changes dated at or before the next window's start:
// no later poll can read them as changes again.
func pruneSeen(st *store.PollerState, nextSince time.Time) {
	cut := nextSince.UnixNano()
	for id, d := range st.Seen {
		if d <= cut {
			delete(st.Seen, id)
		}
	}
}

// decide picks the changes among a window's records and updates st.Seen.
func decide(p *instances.Poller, st *store.PollerState, records []source.Record, since, prevW, now time.Time) ([]change, error) {
	if st.Seen == nil {
		st.Seen = map[string]int64{}
	}
	var out []change
	for i, r := range records {
		c, keep, err := classify(p, st.Seen, r, i, since, prevW, now)
		if err != nil {
			return nil, err
		}
		if !keep {
			continue
		}
		if !c.date.IsZero() {
			k := c.id
			if c.typ == Deleted {
				k = deletedKey(c.id)
			}
			st.Seen[k] = c.date.UnixNano()
		}
		out = append(out, c)
	}
	return out, nil
}

func classify(p *instances.Poller, seen map[string]int64, r source.Record, i int, since, prevW, now time.Time) (change, bool, error) {
	if r.Deleted {
		c := change{typ: Deleted, id: r.ID, date: r.DeletedAt, raw: r.Raw}
		if c.id == "" {
			return c, false, fmt.Errorf("%w: deletion %d has no object id", ErrRecord, i)
		}
		if prev, ok := seen[deletedKey(c.id)]; ok && prev >= c.date.UnixNano() {
			return c, false, nil
		}
		return c, true, nil
	}
	idv := gjson.GetBytes(r.Raw, p.IDField)
	id := idv.String()
	if !idv.Exists() || id == "" || idv.IsObject() || idv.IsArray() {
		return change{}, false, fmt.Errorf("%w: record %d has no id at %q: %s", ErrRecord, i, p.IDField, excerpt(r.Raw))
	}
	c := change{id: id, raw: r.Raw, typ: Updated}
	if p.Updated.Field != "" {
		d, err := readDate(r.Raw, p.Updated)
		if err != nil {
			return c, false, fmt.Errorf("%w: record %s: %s: %v", ErrRecord, id, p.Updated.Field, err)
		}
		c.date = d
		if p.FilterByUpdatedDate && !d.After(since) {
			return c, false, nil
		}
		if p.FilterByCurrentDate && d.After(now) {
			return c, false, nil // dated in our future: the next window has it
		}
		if prev, ok := seen[id]; ok && prev >= d.UnixNano() {
			return c, false, nil // already reported this (object, updated date)
		}
	} else {
		c.date = now
	}
	if p.Created.Field != "" {
		if _, reported := seen[id]; !reported {
			cd, err := readDate(r.Raw, p.Created)
			if err != nil && !errors.Is(err, errNoValue) {
				return c, false, fmt.Errorf("%w: record %s: %s: %v", ErrRecord, id, p.Created.Field, err)
			}
			if err == nil {
				prevEnd := prevW.Add(-p.PollDelay)
				tol := p.CreatedCheckTolerance
				if cd.After(prevEnd) || (tol > 0 && c.date.Sub(cd) <= tol && c.date.Sub(cd) >= -tol) {
					c.typ = Created
				}
			}
		}
	}
	return c, true, nil
}

var errNoValue = errors.New("missing")

// deletedKey is where a deletion is remembered among the seen ids: apart
// from the record's updates, so a deletion stamped in the same instant as
// the last update is still reported.
func deletedKey(id string) string { return id + "\x00deleted" }

func readDate(raw []byte, f instances.DateField) (time.Time, error) {
	v := gjson.GetBytes(raw, f.Field)
	if !v.Exists() || v.Type == gjson.Null || v.String() == "" {
		return time.Time{}, errNoValue
	}
	return f.Parse(v.String())
}

func excerpt(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// message is the SPEC §4 notification body.
type message struct {
	Message messageBody `json:"message"`
}

type messageBody struct {
	ElementKey   string                       `json:"elementKey"`
	InstanceID   int64                        `json:"instanceId"`
	InstanceName string                       `json:"instanceName"`
	InstanceTags []string                     `json:"instanceTags"`
	EventID      string                       `json:"eventId"`
	Events       []eventJSON                  `json:"events"`
	Raw          map[string][]json.RawMessage `json:"raw"`
}

type eventJSON struct {
	ElementKey string `json:"elementKey"`
	HubKey     string `json:"hubKey"`
	EventType  string `json:"eventType"`
	ObjectType string `json:"objectType"`
	ObjectID   string `json:"objectId"`
	Date       string `json:"date"`
}

// notifications cuts changes into notifications of at most batch-size
// events, each with its own eventId and exact body.
func (e *Engine) notifications(rt *instanceRT, resource string, changes []change, now time.Time) ([]store.Entry, error) {
	return BuildEntries(rt.inst, rt.settings, resource, toEvents(changes), now)
}

func toEvents(cs []change) []Event {
	out := make([]Event, len(cs))
	for i, c := range cs {
		out[i] = Event{Type: c.typ, ObjectID: c.id, Date: c.date, Raw: c.raw}
	}
	return out
}

// Event is one change to deliver.
type Event struct {
	Type     string
	ObjectID string
	Date     time.Time
	Raw      []byte
}

// BuildEntries turns events of one instance and resource into outbox
// entries: notifications of at most the instance's batch size, each with a
// fresh eventId, the SPEC §4 body and the delivery policy of the instance.
// Provider webhooks use it too.
func BuildEntries(inst *instances.Instance, s *instances.Settings, resource string, events []Event, now time.Time) ([]store.Entry, error) {
	batch := s.BatchSize
	if batch <= 0 {
		batch = 10
	}
	tags := inst.Tags
	if tags == nil {
		tags = []string{}
	}
	var out []store.Entry
	for lo := 0; lo < len(events); lo += batch {
		hi := min(lo+batch, len(events))
		id, err := uuid.NewRandom()
		if err != nil {
			return nil, err
		}
		m := message{Message: messageBody{
			ElementKey: inst.ConnectorKey, InstanceID: inst.ID, InstanceName: inst.Name, InstanceTags: tags,
			EventID: id.String(), Raw: map[string][]json.RawMessage{resource: {}},
		}}
		for _, ev := range events[lo:hi] {
			m.Message.Events = append(m.Message.Events, eventJSON{
				ElementKey: inst.ConnectorKey, HubKey: connectors.Hub, EventType: ev.Type,
				ObjectType: resource, ObjectID: ev.ObjectID, Date: ev.Date.UTC().Format(time.RFC3339Nano),
			})
			raw := ev.Raw
			if !json.Valid(raw) {
				raw, _ = json.Marshal(string(raw))
			}
			m.Message.Raw[resource] = append(m.Message.Raw[resource], raw)
		}
		body, err := json.Marshal(&m)
		if err != nil {
			return nil, err
		}
		out = append(out, store.Entry{
			Delivery: delivery.Delivery{
				InstanceID: inst.ID, EventID: id.String(), URL: s.CallbackURL, Body: body,
				MaxRetries: s.RetryCount, Interval: s.RetryInterval, NextAttempt: now,
				Status: delivery.Pending, CreatedAt: now,
			},
			Resource: resource, EventCount: hi - lo,
		})
	}
	return out, nil
}

// saveSecrets stores rotated credentials and makes the running instance use
// them.
func (e *Engine) saveSecrets(ctx context.Context, id int64, m map[string]string) error {
	if err := e.cfg.Store.MergeSecrets(ctx, id, m); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if rt, ok := e.instances[id]; ok {
		inst := rt.inst.Clone()
		for k, v := range m {
			inst.Secrets[k] = v
		}
		e.instances[id] = &instanceRT{inst: inst, settings: rt.settings}
	}
	return nil
}
