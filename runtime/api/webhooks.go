package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/runtime/engine"
	"github.com/pollwire/pollwire/runtime/store"
)

// intake is POST /events/{connector}/{base64(instance id)} (or with the id in
// Element-Instances): a vendor's push. It answers 2xx only once the events
// are durable in the outbox, 401 when the signature does not verify, and
// 503 when the store cannot take them, so the vendor retries.
func (s *Server) intake(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("connector")
	id, err := intakeInstance(r)
	if err != nil {
		return err
	}
	inst, err := s.cfg.Store.GetInstance(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && inst.ConnectorKey != key) {
		return notFound(fmt.Sprintf("no %s instance %d", key, id))
	}
	if err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Message: "the store cannot be read; retry", Err: err}
	}
	hook, ok := s.cfg.Webhooks[key]
	if !ok {
		return notFound("the " + key + " connector takes no webhooks")
	}
	settings, err := inst.Settings(s.cfg.Catalog)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	req := &source.WebhookRequest{
		Instance: inst, Settings: settings, Method: r.Method, URL: s.publicURL(r),
		Header: r.Header, Body: body, Now: s.cfg.Clock.Now(),
	}
	if err := hook.Verify(req); err != nil {
		return &Error{Status: http.StatusUnauthorized, Message: "webhook refused: " + err.Error(), Err: err}
	}
	if inst.Disabled || !settings.NotificationsEnabled {
		// Accepted and dropped: the operator turned events off.
		writeJSON(w, http.StatusOK, map[string]any{"accepted": 0, "reason": "events are disabled for this instance"})
		return nil
	}
	changes, err := hook.Changes(req)
	if err != nil {
		return badRequest("cannot read the webhook payload: " + err.Error())
	}
	if s.cfg.Engine == nil {
		return &Error{Status: http.StatusServiceUnavailable, Message: "events are not running in this process"}
	}
	n, err := s.cfg.Engine.AcceptWebhook(r.Context(), inst, settings, changes)
	if err != nil {
		w.Header().Set("Retry-After", "30")
		return &Error{Status: http.StatusServiceUnavailable, Message: "the events could not be stored; retry", Err: err}
	}
	writeJSON(w, http.StatusOK, map[string]any{"accepted": n})
	return nil
}

func intakeInstance(r *http.Request) (int64, error) {
	if v := r.PathValue("instance"); v != "" {
		id, err := engine.ParseIntakeID(v)
		if err != nil {
			return 0, notFound(fmt.Sprintf("%q is not a base64-encoded instance id", v))
		}
		return id, nil
	}
	v := strings.TrimSpace(r.Header.Get("Element-Instances"))
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("name the instance: POST /elements/api-v2/events/{connector}/{base64(instance id)} or the Element-Instances header")
	}
	return id, nil
}

// publicURL is the URL the vendor called, as the vendor saw it.
func (s *Server) publicURL(r *http.Request) *url.URL {
	u := &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if pu, err := url.Parse(s.cfg.PublicURL); err == nil && s.cfg.PublicURL != "" {
		u.Scheme, u.Host = pu.Scheme, pu.Host
		u.Path = strings.TrimRight(pu.Path, "/") + u.Path
		return u
	}
	u.Scheme, u.Host = "http", r.Host
	if r.TLS != nil {
		u.Scheme = "https"
	}
	return u
}
