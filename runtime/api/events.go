package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/engine"
	"github.com/pollwire/pollwire/runtime/store"
)

func (s *Server) listPollers(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.InstanceFromRequest(r)
	if err != nil {
		return err
	}
	out := []engine.PollerStatus{}
	if s.cfg.Engine != nil {
		if ps := s.cfg.Engine.Pollers(inst.ID); ps != nil {
			out = ps
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) runPoller(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.InstanceFromRequest(r)
	if err != nil {
		return err
	}
	res := r.PathValue("resource")
	if s.cfg.Engine == nil {
		return notFound("polling is not running in this process")
	}
	if err := s.cfg.Engine.RunNow(inst.ID, res); err != nil {
		if errors.Is(err, engine.ErrNoPoller) {
			return notFound(fmt.Sprintf("instance %d has no active poller for %q (is it configured, enabled and are notifications on?)", inst.ID, res))
		}
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"instanceId": inst.ID, "resource": res, "triggered": true})
	return nil
}

// EventView is one notification in the event log with its delivery status.
type EventView struct {
	EventID       string          `json:"eventId"`
	ObjectType    string          `json:"objectType"`
	EventCount    int             `json:"eventCount"`
	Status        delivery.Status `json:"status"`
	Attempts      int             `json:"attempts"`
	MaxAttempts   int             `json:"maxAttempts"`
	NextAttempt   *time.Time      `json:"nextAttempt,omitempty"`
	LastStatus    int             `json:"lastStatus,omitempty"`
	LastError     string          `json:"lastError,omitempty"`
	CallbackURL   string          `json:"callbackUrl"`
	CreatedDate   time.Time       `json:"createdDate"`
	DeliveredDate *time.Time      `json:"deliveredDate,omitempty"`
	// Message is the notification as delivered; only on the single-event view.
	Message json.RawMessage `json:"message,omitempty"`
}

func eventView(e *store.Entry) EventView {
	v := EventView{
		EventID: e.EventID, ObjectType: e.Resource, EventCount: e.EventCount, Status: e.Status,
		Attempts: e.Attempts, MaxAttempts: 1 + e.MaxRetries, LastStatus: e.LastStatus, LastError: e.LastError,
		CallbackURL: e.URL, CreatedDate: e.CreatedAt,
	}
	if e.Status == delivery.Pending {
		t := e.NextAttempt
		v.NextAttempt = &t
	}
	if !e.DeliveredAt.IsZero() {
		t := e.DeliveredAt
		v.DeliveredDate = &t
	}
	if len(e.Body) > 0 {
		var m struct {
			Message json.RawMessage `json:"message"`
		}
		if json.Unmarshal(e.Body, &m) == nil {
			v.Message = m.Message
		}
	}
	return v
}

func (s *Server) listEntries(w http.ResponseWriter, r *http.Request, f store.EntryFilter) error {
	inst, err := s.InstanceFromRequest(r)
	if err != nil {
		return err
	}
	if st := r.URL.Query().Get("status"); st != "" {
		switch delivery.Status(st) {
		case delivery.Pending, delivery.Delivered, delivery.Failed:
			f.Status = delivery.Status(st)
		default:
			return badRequest("status must be pending, delivered or failed", instances.FieldError{Path: "status", Message: "must be pending, delivered or failed"})
		}
	}
	// Page over the instance's log without loading it whole.
	lo, hi, err := Page(r, 1<<31-1, 100)
	if err != nil {
		return err
	}
	entries, err := s.cfg.Store.ListEntries(r.Context(), inst.ID, f, lo, hi-lo)
	if err != nil {
		return err
	}
	out := make([]EventView, 0, len(entries))
	for i := range entries {
		out = append(out, eventView(&entries[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	return s.listEntries(w, r, store.EntryFilter{})
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	return s.listEntries(w, r, store.EntryFilter{})
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.InstanceFromRequest(r)
	if err != nil {
		return err
	}
	e, err := s.cfg.Store.EntryByEventID(r.Context(), inst.ID, r.PathValue("eventId"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("instance %d has no event %s", inst.ID, r.PathValue("eventId")))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, eventView(e))
	return nil
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.InstanceFromRequest(r)
	if err != nil {
		return err
	}
	id := r.PathValue("eventId")
	ds, err := s.cfg.Store.ResetForRetry(r.Context(), inst.ID, id, time.Time{}, s.cfg.Clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("instance %d has no delivery %s", inst.ID, id))
	}
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return &Error{Status: http.StatusConflict, Message: fmt.Sprintf("delivery %s is not failed; only failed deliveries are retried", id)}
	}
	s.redeliver(ds)
	writeJSON(w, http.StatusAccepted, map[string]any{"retried": len(ds), "eventIds": []string{id}})
	return nil
}

func (s *Server) retryDeliveries(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.InstanceFromRequest(r)
	if err != nil {
		return err
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		since, err = time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return badRequest("since must be an RFC 3339 time", instances.FieldError{Path: "since", Message: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
		}
	}
	ds, err := s.cfg.Store.ResetForRetry(r.Context(), inst.ID, "", since, s.cfg.Clock.Now())
	if err != nil {
		return err
	}
	s.redeliver(ds)
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.EventID)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"retried": len(ds), "eventIds": ids})
	return nil
}

func (s *Server) redeliver(ds []delivery.Delivery) {
	if s.cfg.Engine != nil {
		s.cfg.Engine.Redeliver(ds)
	}
}
