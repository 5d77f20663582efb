// Package instances knows what a pollwire instance is and whether one is valid:
// the model parsed from instance.json, its validation and the settings compiled
// from it. It knows nothing of HTTP servers, schedules or storage.
package instances

import "time"

// Instance is one provisioned connector instance, as stored.
//
// Configuration values are kept as canonical strings (numbers and booleans as
// their JSON text, objects as compact JSON), split in two maps: Config holds
// the plain values and Secrets the values the connector declares secret
// (credentials, signature keys). Storage encrypts Secrets at rest; the admin
// API never returns them.
type Instance struct {
	ID           int64             `json:"id"`
	Name         string            `json:"name"`
	Token        string            `json:"token"`
	ConnectorKey string            `json:"connectorKey"`
	Tags         []string          `json:"tags"`
	Config       map[string]string `json:"config"`
	Secrets      map[string]string `json:"secrets,omitempty"`
	Disabled     bool              `json:"disabled"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
}

// Value returns the configuration value of key, plain or secret, and whether
// it is set.
func (i *Instance) Value(key string) (string, bool) {
	if v, ok := i.Config[key]; ok {
		return v, true
	}
	v, ok := i.Secrets[key]
	return v, ok
}

// AllConfig returns one map of plain and secret values, for validation and
// merging. The result is a copy.
func (i *Instance) AllConfig() map[string]string {
	m := make(map[string]string, len(i.Config)+len(i.Secrets))
	for k, v := range i.Config {
		m[k] = v
	}
	for k, v := range i.Secrets {
		m[k] = v
	}
	return m
}

// Clone returns a deep copy of i.
func (i *Instance) Clone() *Instance {
	c := *i
	c.Tags = append([]string(nil), i.Tags...)
	c.Config = make(map[string]string, len(i.Config))
	for k, v := range i.Config {
		c.Config[k] = v
	}
	c.Secrets = make(map[string]string, len(i.Secrets))
	for k, v := range i.Secrets {
		c.Secrets[k] = v
	}
	return &c
}

// rawJSON lets a stored JSON text be embedded in an answer as JSON.
type rawJSON string

// MarshalJSON returns the stored text, which is valid JSON by construction.
func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }
