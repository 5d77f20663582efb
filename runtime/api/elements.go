package api

import (
	"net/http"

	"github.com/pollwire/pollwire/connectors"
)

// ElementView is a connector as GET /elements lists it.
type ElementView struct {
	Key         string   `json:"key"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Hub         string   `json:"hub"`
	Auth        string   `json:"authenticationType"`
	Resources   []string `json:"resources"`
	Polling     bool     `json:"polling"`
	Webhooks    bool     `json:"webhooks"`
}

// MetadataView is GET /elements/{key}/metadata: the connector with every
// configuration key it takes.
type MetadataView struct {
	ElementView
	DefaultBaseURL string                 `json:"defaultBaseUrl,omitempty"`
	Configuration  []connectors.ConfigKey `json:"configuration"`
	ResourceFields []connectors.ConfigKey `json:"pollerFields"`
}

func elementView(s *connectors.Spec) ElementView {
	res := s.Resources
	if res == nil {
		res = []string{}
	}
	return ElementView{Key: s.Key, Name: s.Name, Description: s.Description, Hub: s.Hub, Auth: s.AuthType, Resources: res, Polling: s.Polling, Webhooks: s.Webhooks}
}

func (s *Server) listElements(w http.ResponseWriter, r *http.Request) error {
	all := s.cfg.Catalog.All()
	lo, hi, err := Page(r, len(all), 200)
	if err != nil {
		return err
	}
	out := make([]ElementView, 0, hi-lo)
	for _, spec := range all[lo:hi] {
		out = append(out, elementView(spec))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) elementMetadata(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	spec, ok := s.cfg.Catalog.Lookup(key)
	if !ok {
		return notFound("no connector with key " + key)
	}
	fields := append(append([]connectors.ConfigKey{}, connectors.ResourceCommon...), spec.ResourceFields...)
	writeJSON(w, http.StatusOK, MetadataView{
		ElementView:    elementView(spec),
		DefaultBaseURL: spec.DefaultBaseURL,
		Configuration:  spec.AllKeys(),
		ResourceFields: fields,
	})
	return nil
}
