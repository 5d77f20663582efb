package instances

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pollwire/pollwire/connectors"
)

// Mask is what the admin API shows in place of a secret value. A PUT or
// PATCH that sends it back keeps the stored secret, so an instance read with
// GET can be edited and sent back whole.
const Mask = "********"

// New builds a new instance from a POST body. The result has no ID yet; the
// store assigns it.
func New(req *Request, cat connectors.Catalog, now time.Time) (*Instance, *Settings, error) {
	inst := &Instance{CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	var ps problems
	if req.ConnectorKey == nil {
		ps.add("connector.key", "required")
	}
	if req.Name == nil {
		ps.add("name", "required")
	}
	if !req.HasConfig {
		ps.add("configuration", "required")
	}
	if err := ps.err(); err != nil {
		return nil, nil, err
	}
	inst.ConnectorKey = *req.ConnectorKey
	cfg := map[string]string{}
	for k, v := range req.Config {
		if v != nil {
			cfg[k] = *v
		}
	}
	token, err := NewToken()
	if err != nil {
		return nil, nil, err
	}
	inst.Token = token
	return finish(inst, req, cfg, cat)
}

// Replace applies a PUT body: the configuration is the one sent, except that
// masked secrets keep their stored values.
func Replace(cur *Instance, req *Request, cat connectors.Catalog, now time.Time) (*Instance, *Settings, error) {
	var ps problems
	if req.Name == nil {
		ps.add("name", "required")
	}
	if !req.HasConfig {
		ps.add("configuration", "required")
	}
	if req.ConnectorKey != nil && *req.ConnectorKey != cur.ConnectorKey {
		ps.add("connector.key", fmt.Sprintf("an instance cannot change connector (it is %q); create a new instance", cur.ConnectorKey))
	}
	if err := ps.err(); err != nil {
		return nil, nil, err
	}
	inst := cur.Clone()
	inst.UpdatedAt = now.UTC()
	old := cur.AllConfig()
	cfg := map[string]string{}
	for k, v := range req.Config {
		if v == nil {
			continue
		}
		if *v == Mask {
			if prev, ok := old[k]; ok {
				cfg[k] = prev
				continue
			}
		}
		cfg[k] = *v
	}
	if req.Tags == nil {
		inst.Tags = nil
	}
	return finish(inst, req, cfg, cat)
}

// Patch applies a PATCH body: fields and configuration keys sent replace the
// stored ones, a configuration key sent as null is removed, the rest stays.
func Patch(cur *Instance, req *Request, cat connectors.Catalog, now time.Time) (*Instance, *Settings, error) {
	if req.ConnectorKey != nil && *req.ConnectorKey != cur.ConnectorKey {
		return nil, nil, problems{{Path: "connector.key", Message: fmt.Sprintf("an instance cannot change connector (it is %q); create a new instance", cur.ConnectorKey)}}.err()
	}
	inst := cur.Clone()
	inst.UpdatedAt = now.UTC()
	cfg := cur.AllConfig()
	for k, v := range req.Config {
		switch {
		case v == nil:
			delete(cfg, k)
		case *v == Mask:
			// keep the stored secret
		default:
			cfg[k] = *v
		}
	}
	return finish(inst, req, cfg, cat)
}

func finish(inst *Instance, req *Request, cfg map[string]string, cat connectors.Catalog) (*Instance, *Settings, error) {
	var ps problems
	spec, ok := cat.Lookup(inst.ConnectorKey)
	if !ok {
		var keys []string
		for _, s := range cat.All() {
			keys = append(keys, s.Key)
		}
		ps.add("connector.key", fmt.Sprintf("unknown connector %q; pollwire has %s", inst.ConnectorKey, strings.Join(keys, ", ")))
		return nil, nil, ps.err()
	}
	if req.Name != nil {
		inst.Name = strings.TrimSpace(*req.Name)
		if inst.Name == "" {
			ps.add("name", "must not be empty")
		} else if len(inst.Name) > MaxNameLength {
			ps.add("name", fmt.Sprintf("must be at most %d characters", MaxNameLength))
		}
	}
	if req.Tags != nil {
		if len(*req.Tags) > maxTags {
			ps.add("tags", fmt.Sprintf("at most %d tags", maxTags))
		}
		for i, t := range *req.Tags {
			if strings.TrimSpace(t) == "" || len(t) > 100 {
				ps.add(fmt.Sprintf("tags[%d]", i), "tags are 1-100 characters")
			}
		}
		inst.Tags = append([]string{}, (*req.Tags)...)
	}
	if inst.Tags == nil {
		inst.Tags = []string{}
	}
	if req.Disabled != nil {
		inst.Disabled = *req.Disabled
	}
	settings, cps := compile(spec, cfg)
	ps = append(ps, cps...)
	if err := ps.err(); err != nil {
		return nil, nil, err
	}
	inst.Config = map[string]string{}
	inst.Secrets = map[string]string{}
	for k, v := range cfg {
		if spec.IsSecret(k) {
			inst.Secrets[k] = v
		} else {
			inst.Config[k] = v
		}
	}
	return inst, settings, nil
}

// NewToken returns a fresh random instance token (the Element credential).
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("instance token: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Masked returns the instance's configuration as the admin API shows it:
// every value as a string, secrets replaced by Mask, and
// event.poller.configuration as the JSON object it holds.
func (i *Instance) Masked() map[string]any {
	out := make(map[string]any, len(i.Config)+len(i.Secrets))
	for k, v := range i.Config {
		out[k] = v
	}
	// An empty (or blank) poller configuration is valid when nothing polls,
	// but it is no JSON value and would break the whole answer.
	if pc, ok := i.Config[connectors.KeyPollerConfiguration]; ok && json.Valid([]byte(pc)) {
		out[connectors.KeyPollerConfiguration] = rawJSON(pc)
	}
	for k := range i.Secrets {
		out[k] = Mask
	}
	return out
}
