package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/instances"
	"github.com/pollwire/pollwire/runtime/store"
)

// InstanceView is an instance as the admin API shows it: SAP Open
// Connectors' shape, secrets masked.
type InstanceView struct {
	ID            int64          `json:"id"`
	Name          string         `json:"name"`
	Token         string         `json:"token"`
	Element       ElementRef     `json:"element"`
	Tags          []string       `json:"tags"`
	Configuration map[string]any `json:"configuration"`
	EventsEnabled bool           `json:"eventsEnabled"`
	Disabled      bool           `json:"disabled"`
	Valid         bool           `json:"valid"`
	CreatedDate   time.Time      `json:"createdDate"`
	UpdatedDate   time.Time      `json:"updatedDate"`
}

// ElementRef names an instance's connector.
type ElementRef struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	Hub  string `json:"hub"`
}

func (s *Server) view(inst *instances.Instance) InstanceView {
	v := InstanceView{
		ID: inst.ID, Name: inst.Name, Token: inst.Token, Tags: inst.Tags,
		Configuration: inst.Masked(), Disabled: inst.Disabled, Valid: true,
		CreatedDate: inst.CreatedAt, UpdatedDate: inst.UpdatedAt,
		Element: ElementRef{Key: inst.ConnectorKey, Hub: connectors.Hub},
	}
	if spec, ok := s.cfg.Catalog.Lookup(inst.ConnectorKey); ok {
		v.Element.Name = spec.Name
		v.Element.Hub = spec.Hub
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if st, err := inst.Settings(s.cfg.Catalog); err == nil {
		v.EventsEnabled = st.NotificationsEnabled
	} else {
		v.Valid = false
	}
	return v
}

// InstanceFromRequest loads the instance named by the {id} path value and
// checks an Element token, if the request carries one, against it.
func (s *Server) InstanceFromRequest(r *http.Request) (*instances.Instance, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return nil, badRequest(fmt.Sprintf("instance id %q must be a positive integer", raw), instances.FieldError{Path: "id", Message: "must be a positive integer"})
	}
	inst, err := s.cfg.Store.GetInstance(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(fmt.Sprintf("no instance with id %d", id))
	}
	if err != nil {
		return nil, err
	}
	if tok := elementToken(r); tok != "" && tok != inst.Token {
		return nil, &Error{Status: http.StatusUnauthorized, Message: "the Element token does not belong to this instance"}
	}
	return inst, nil
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) error {
	all, err := s.cfg.Store.ListInstances(r.Context())
	if err != nil {
		return err
	}
	if tok := elementToken(r); tok != "" {
		var mine []*instances.Instance
		for _, inst := range all {
			if inst.Token == tok {
				mine = append(mine, inst)
			}
		}
		all = mine
	}
	lo, hi, err := Page(r, len(all), 200)
	if err != nil {
		return err
	}
	out := make([]InstanceView, 0, hi-lo)
	for _, inst := range all[lo:hi] {
		out = append(out, s.view(inst))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createInstance(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	req, err := instances.DecodeRequest(body)
	if err != nil {
		return err
	}
	inst, settings, err := instances.New(req, s.cfg.Catalog, s.cfg.Clock.Now())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cfg.Store.CreateInstance(r.Context(), inst); err != nil {
		return err
	}
	s.cfg.Logger.Info("instance created", "instance", inst.ID, "connector", inst.ConnectorKey, "name", inst.Name)
	s.apply(inst, settings)
	writeJSON(w, http.StatusOK, s.view(inst))
	return nil
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) error {
	inst, err := s.InstanceFromRequest(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(inst))
	return nil
}

func (s *Server) replaceInstance(w http.ResponseWriter, r *http.Request) error {
	return s.update(w, r, instances.Replace)
}

func (s *Server) patchInstance(w http.ResponseWriter, r *http.Request) error {
	return s.update(w, r, instances.Patch)
}

type updateFunc func(cur *instances.Instance, req *instances.Request, cat connectors.Catalog, now time.Time) (*instances.Instance, *instances.Settings, error)

func (s *Server) update(w http.ResponseWriter, r *http.Request, fn updateFunc) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	req, err := instances.DecodeRequest(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.InstanceFromRequest(r)
	if err != nil {
		return err
	}
	inst, settings, err := fn(cur, req, s.cfg.Catalog, s.cfg.Clock.Now())
	if err != nil {
		return err
	}
	if err := s.cfg.Store.UpdateInstance(r.Context(), inst); err != nil {
		return err
	}
	s.cfg.Logger.Info("instance updated", "instance", inst.ID)
	s.apply(inst, settings)
	writeJSON(w, http.StatusOK, s.view(inst))
	return nil
}

func (s *Server) deleteInstance(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.InstanceFromRequest(r)
	if err != nil {
		return err
	}
	// Stop the work first so nothing writes state for an instance being removed.
	if s.cfg.Engine != nil {
		s.cfg.Engine.Remove(inst.ID)
	}
	if err := s.cfg.Store.DeleteInstance(r.Context(), inst.ID); err != nil {
		return err
	}
	s.cfg.Logger.Info("instance deleted", "instance", inst.ID)
	writeJSON(w, http.StatusOK, map[string]any{"id": inst.ID, "deleted": true})
	return nil
}

func (s *Server) enable(on bool) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		inst, err := s.InstanceFromRequest(r)
		if err != nil {
			return err
		}
		return s.setEnabled(w, r, inst, on)
	}
}

func (s *Server) enableByToken(on bool) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		tok := elementToken(r)
		if tok == "" {
			return &Error{Status: http.StatusUnauthorized, Message: "this call needs the instance's token: Authorization: User <secret>, Organization <secret>, Element <token>"}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		inst, err := s.cfg.Store.InstanceByToken(r.Context(), tok)
		if errors.Is(err, store.ErrNotFound) {
			return &Error{Status: http.StatusUnauthorized, Message: "no instance has this Element token"}
		}
		if err != nil {
			return err
		}
		return s.setEnabled(w, r, inst, on)
	}
}

func (s *Server) setEnabled(w http.ResponseWriter, r *http.Request, inst *instances.Instance, on bool) error {
	// Compile first: an instance whose stored configuration no longer
	// validates must not be half-enabled.
	settings, err := inst.Settings(s.cfg.Catalog)
	if err != nil {
		return err
	}
	inst.Disabled = !on
	inst.UpdatedAt = s.cfg.Clock.Now().UTC()
	if err := s.cfg.Store.UpdateInstance(r.Context(), inst); err != nil {
		return err
	}
	s.cfg.Logger.Info("instance enabled changed", "instance", inst.ID, "enabled", on)
	s.apply(inst, settings)
	writeJSON(w, http.StatusOK, s.view(inst))
	return nil
}

func (s *Server) apply(inst *instances.Instance, settings *instances.Settings) {
	if s.cfg.Engine != nil {
		s.cfg.Engine.Apply(inst.Clone(), settings)
	}
}
