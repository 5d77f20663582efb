// Package connectors describes the vendors pollwire can watch. Each connector
// lives in its own folder (closeio, hubspot, salesforce, rest) with its
// definition, vendor logic, simulator and tests; the registry sub-package
// lists them. This package holds only the types they share, so that the
// instance model can consult definitions without importing vendor code.
package connectors

import "sort"

// Hub is the SAP Open Connectors hub every pollwire connector belongs to.
const Hub = "crm"

// Kind says what type of value a configuration key takes; validation and the
// metadata answer use it.
type Kind string

// The kinds of configuration value.
const (
	KindString   Kind = "string"
	KindSecret   Kind = "password"
	KindBoolean  Kind = "boolean"
	KindNumber   Kind = "number"
	KindURL      Kind = "url"
	KindDuration Kind = "duration"
	KindJSON     Kind = "json"
	KindEnum     Kind = "enum"
)

// ConfigKey documents one configuration key: its default and meaning live
// here once and feed validation, `/elements/{key}/metadata` and the docs.
type ConfigKey struct {
	Name        string   `json:"key"`
	Kind        Kind     `json:"type"`
	Default     string   `json:"defaultValue,omitempty"`
	Required    bool     `json:"required"`
	Secret      bool     `json:"secret"`
	Values      []string `json:"values,omitempty"` // allowed values of a KindEnum key
	Description string   `json:"description"`
}

// Problem is one connector-specific validation finding: Key is the
// configuration key at fault ("" for the configuration as a whole).
type Problem struct {
	Key     string
	Message string
}

// Spec is a connector's definition: what it is called, which configuration
// keys it takes and what it can do. It is plain data plus an optional
// validation hook that must not touch the network.
type Spec struct {
	Key            string      `json:"key"`
	Name           string      `json:"name"`
	Description    string      `json:"description"`
	Hub            string      `json:"hub"`
	AuthType       string      `json:"authenticationType"`
	DefaultBaseURL string      `json:"defaultBaseUrl,omitempty"`
	Config         []ConfigKey `json:"configuration"`
	// Resources are the hub resources (`/hubs/crm/{resource}`) this connector
	// can poll. An empty list means poller URLs are sent as written.
	Resources []string `json:"resources"`
	// ResourceFields are extra per-resource poller configuration fields this
	// connector understands beyond the common ones (e.g. the rest connector's
	// pagination settings).
	ResourceFields []ConfigKey `json:"resourceFields,omitempty"`
	// HubDefaults are what a /hubs/crm poller of this connector reads when
	// its configuration does not say: the id field and the date fields.
	HubDefaults HubDefaults `json:"hubDefaults"`
	Polling     bool        `json:"polling"`
	Webhooks    bool        `json:"webhooks"`
	// Validate checks connector-specific rules (e.g. which credentials an
	// authentication type needs) on the merged configuration. Optional.
	Validate func(cfg map[string]string) []Problem `json:"-"`
	// ValidateResource checks the connector's own per-resource fields. Optional.
	ValidateResource func(resource string, fields map[string]string) []Problem `json:"-"`
	// ValidateQuery checks that the CEQL `where` of a /hubs/crm/{resource}
	// poller URL (placeholders expanded with a sample time) translates into
	// the vendor's query; its error names the clause it cannot translate.
	// Optional.
	ValidateQuery func(resource, where string) error `json:"-"`
}

// Key returns the ConfigKey named name, from the connector's own keys or the
// common ones.
func (s *Spec) ConfigKey(name string) (ConfigKey, bool) {
	for _, k := range s.Config {
		if k.Name == name {
			return k, true
		}
	}
	for _, k := range Common {
		if k.Name == name {
			return k, true
		}
	}
	return ConfigKey{}, false
}

// IsSecret reports whether the configuration key holds a secret.
func (s *Spec) IsSecret(name string) bool {
	k, ok := s.ConfigKey(name)
	return ok && k.Secret
}

// HasResource reports whether resource is one of the connector's hub resources.
func (s *Spec) HasResource(resource string) bool {
	for _, r := range s.Resources {
		if r == resource {
			return true
		}
	}
	return false
}

// AllKeys returns the connector's keys followed by the common keys.
func (s *Spec) AllKeys() []ConfigKey {
	out := make([]ConfigKey, 0, len(s.Config)+len(Common))
	out = append(out, s.Config...)
	return append(out, Common...)
}

// HubDefaults are a connector's record shape for hub resources. Formats
// are Java patterns; empty means RFC 3339.
type HubDefaults struct {
	IDField       string `json:"idField,omitempty"`
	UpdatedField  string `json:"updatedDateField,omitempty"`
	UpdatedFormat string `json:"updatedDateFormat,omitempty"`
	CreatedField  string `json:"createdDateField,omitempty"`
	CreatedFormat string `json:"createdDateFormat,omitempty"`
}

// Catalog looks connector definitions up by key.
type Catalog interface {
	Lookup(key string) (*Spec, bool)
	All() []*Spec
}

// List is a Catalog backed by a slice.
type List []*Spec

// Lookup finds a connector by key.
func (l List) Lookup(key string) (*Spec, bool) {
	for _, s := range l {
		if s.Key == key {
			return s, true
		}
	}
	return nil, false
}

// All returns the connectors sorted by key.
func (l List) All() []*Spec {
	out := append([]*Spec(nil), l...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
