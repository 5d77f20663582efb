// Package api is pollwire's admin API, compatible with SAP Open Connectors'
// /elements/api-v2: instances, connectors, and (with the engine) pollers,
// events and deliveries.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/clock"
	"github.com/pollwire/pollwire/runtime/delivery"
	"github.com/pollwire/pollwire/runtime/engine"
	"github.com/pollwire/pollwire/runtime/store"
)

// Base is the path prefix of the admin API.
const Base = "/elements/api-v2"

// MaxBodyBytes is the largest request body the API reads.
const MaxBodyBytes = 1 << 20

// Credentials are the secrets of the Authorization header.
type Credentials struct {
	User         string
	Organization string
}

// Engine is told about every change to an instance so it takes effect at
// once. Implementations must not block on network I/O.
type Engine interface {
	// Apply (re)starts the instance's work per its settings, or stops it
	// when the instance is disabled.
	Apply(inst *instances.Instance, s *instances.Settings)
	// Remove stops all work of a deleted instance.
	Remove(id int64)
	// Pollers reports an instance's pollers.
	Pollers(id int64) []engine.PollerStatus
	// RunNow polls a resource at once; engine.ErrNoPoller when it has no
	// active poller.
	RunNow(id int64, resource string) error
	// Redeliver hands deliveries reset for retry to the dispatcher.
	Redeliver(ds []delivery.Delivery)
	// AcceptWebhook queues pushed changes durably; an error means nothing
	// was queued.
	AcceptWebhook(ctx context.Context, inst *instances.Instance, s *instances.Settings, changes []source.Change) (int, error)
}

// Readiness reports whether the daemon is ready to serve; nil means ready.
type Readiness func() error

// Config wires a Server.
type Config struct {
	Store       store.Store
	Catalog     connectors.Catalog
	Credentials Credentials
	Engine      Engine // optional
	Clock       clock.Clock
	Logger      *slog.Logger
	Ready       Readiness // optional
	// Webhooks verify and read vendor pushes, by connector key.
	Webhooks map[string]source.Webhook
	// PublicURL is how vendors reach pollwire (scheme://host[:port]); the
	// URL a vendor signed is rebuilt on it. Empty: taken from the request.
	PublicURL string
	// Extra registers more routes (relative to Base) on the server's router,
	// for parts of the runtime that own their endpoints.
	Extra []Route
}

// Route is one path with handlers per method.
type Route struct {
	Pattern string // e.g. "/instances/{id}/pollers"
	Methods map[string]HandlerFunc
	// Auth is the authorization the route needs.
	Auth AuthLevel
}

// AuthLevel says what a route needs in the Authorization header.
type AuthLevel int

const (
	// AuthAdmin needs User and Organization, and an Element token, if one is
	// given, that matches the addressed instance.
	AuthAdmin AuthLevel = iota
	// AuthNone is for health and metrics endpoints.
	AuthNone
)

// HandlerFunc is an admin handler: it writes a successful answer or returns
// an error that the server turns into the JSON error body.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Server serves the admin API.
type Server struct {
	cfg Config
	mux *http.ServeMux
	// mu serialises instance writes so a PATCH's read-modify-write is not
	// lost to a concurrent one.
	mu sync.Mutex
}

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	routes := []Route{
		{Pattern: "/instances", Methods: map[string]HandlerFunc{"GET": s.listInstances, "POST": s.createInstance}},
		{Pattern: "/instances/enabled", Methods: map[string]HandlerFunc{"PUT": s.enableByToken(true), "DELETE": s.enableByToken(false)}},
		{Pattern: "/instances/{id}", Methods: map[string]HandlerFunc{"GET": s.getInstance, "PUT": s.replaceInstance, "PATCH": s.patchInstance, "DELETE": s.deleteInstance}},
		{Pattern: "/instances/{id}/enabled", Methods: map[string]HandlerFunc{"PUT": s.enable(true), "DELETE": s.enable(false)}},
		{Pattern: "/elements", Methods: map[string]HandlerFunc{"GET": s.listElements}},
		{Pattern: "/elements/{key}/metadata", Methods: map[string]HandlerFunc{"GET": s.elementMetadata}},
		{Pattern: "/instances/{id}/pollers", Methods: map[string]HandlerFunc{"GET": s.listPollers}},
		{Pattern: "/instances/{id}/pollers/{resource}/run", Methods: map[string]HandlerFunc{"POST": s.runPoller}},
		{Pattern: "/instances/{id}/events", Methods: map[string]HandlerFunc{"GET": s.listEvents}},
		{Pattern: "/instances/{id}/events/{eventId}", Methods: map[string]HandlerFunc{"GET": s.getEvent}},
		{Pattern: "/instances/{id}/deliveries", Methods: map[string]HandlerFunc{"GET": s.listDeliveries}},
		{Pattern: "/instances/{id}/deliveries/retry", Methods: map[string]HandlerFunc{"POST": s.retryDeliveries}},
		{Pattern: "/instances/{id}/deliveries/{eventId}/retry", Methods: map[string]HandlerFunc{"POST": s.retryDelivery}},
		// Vendors authenticate by their signatures, checked per connector.
		{Pattern: "/events/{connector}/{instance}", Auth: AuthNone, Methods: map[string]HandlerFunc{"POST": s.intake}},
		{Pattern: "/events/{connector}", Auth: AuthNone, Methods: map[string]HandlerFunc{"POST": s.intake}},
	}
	routes = append(routes, cfg.Extra...)
	for _, rt := range routes {
		s.handle(Base+rt.Pattern, rt)
	}
	s.handle("/healthz", Route{Auth: AuthNone, Methods: map[string]HandlerFunc{"GET": s.healthz}})
	s.handle("/readyz", Route{Auth: AuthNone, Methods: map[string]HandlerFunc{"GET": s.readyz}})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, newRequestID(), notFound("no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	return s
}

// Handle registers a route outside the admin base (e.g. /metrics).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) handle(pattern string, rt Route) {
	allowed := make([]string, 0, len(rt.Methods))
	for m := range rt.Methods {
		allowed = append(allowed, m)
	}
	sort.Strings(allowed)
	allow := strings.Join(allowed, ", ")
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rid := newRequestID()
		w.Header().Set("Elements-Request-Id", rid)
		h, ok := rt.Methods[r.Method]
		if !ok {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, rid, &Error{Status: http.StatusMethodNotAllowed, Message: r.Method + " is not allowed here; allowed: " + allow})
			return
		}
		if rt.Auth == AuthAdmin {
			elem, err := s.authorize(r)
			if err != nil {
				s.writeError(w, r, rid, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), elementKey{}, elem))
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := h(w, r); err != nil {
			s.writeError(w, r, rid, err)
		}
	})
}

type elementKey struct{}

// elementToken returns the Element token of the request's Authorization
// header, or "".
func elementToken(r *http.Request) string {
	v, _ := r.Context().Value(elementKey{}).(string)
	return v
}

// authorize checks `User x, Organization y[, Element z]` and returns z.
func (s *Server) authorize(r *http.Request) (string, error) {
	parts := parseAuthorization(r.Header.Get("Authorization"))
	okUser := subtle.ConstantTimeCompare([]byte(parts["User"]), []byte(s.cfg.Credentials.User)) == 1
	okOrg := subtle.ConstantTimeCompare([]byte(parts["Organization"]), []byte(s.cfg.Credentials.Organization)) == 1
	// Unset secrets must not let an empty header part through.
	if !okUser || !okOrg || s.cfg.Credentials.User == "" || s.cfg.Credentials.Organization == "" {
		return "", ErrUnauthorized
	}
	return parts["Element"], nil
}

// parseAuthorization splits "User a, Organization b, Element c".
func parseAuthorization(h string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(h, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), " ")
		if !ok {
			continue
		}
		out[name] = strings.TrimSpace(value)
	}
	return out
}

type errorBody struct {
	RequestID string                 `json:"requestId"`
	Message   string                 `json:"message"`
	Errors    []instances.FieldError `json:"errors,omitempty"`
}

// writeError is the one place errors become answers; it logs each once.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, rid string, err error) {
	ae := asAPIError(err)
	if ae.Status >= 500 {
		s.cfg.Logger.Error("admin request failed", "requestId", rid, "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.cfg.Logger.Debug("admin request refused", "requestId", rid, "method", r.Method, "path", r.URL.Path, "status", ae.Status, "err", err)
	}
	writeJSON(w, ae.Status, errorBody{RequestID: rid, Message: ae.Message, Errors: ae.Errors})
}

// WriteJSON writes v as a JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// WriteJSON writes v as a JSON answer; for routes registered through Extra.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

func newRequestID() string { return uuid.NewString() }

// readBody reads the whole (size-limited) body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("cannot read request body: " + err.Error())
	}
	return b, nil
}

// Page reads page/pageSize query parameters (1-based page, default size
// def, at most 1000) and returns the slice bounds for n items.
func Page(r *http.Request, n, def int) (lo, hi int, err error) {
	page, size := 1, def
	if v := r.URL.Query().Get("page"); v != "" {
		p, e := strconv.Atoi(v)
		if e != nil || p < 1 {
			return 0, 0, badRequest("page must be a whole number from 1", instances.FieldError{Path: "page", Message: "must be a whole number from 1"})
		}
		page = p
	}
	if v := r.URL.Query().Get("pageSize"); v != "" {
		p, e := strconv.Atoi(v)
		if e != nil || p < 1 || p > 1000 {
			return 0, 0, badRequest("pageSize must be a whole number from 1 to 1000", instances.FieldError{Path: "pageSize", Message: "must be a whole number from 1 to 1000"})
		}
		size = p
	}
	lo = (page - 1) * size
	if lo > n {
		lo = n
	}
	hi = lo + size
	if hi > n {
		hi = n
	}
	return lo, hi, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
