package instances

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// Request is a decoded instance.json body (POST, PUT or PATCH). Fields the
// body did not carry stay nil, which is what PATCH needs.
type Request struct {
	ConnectorKey *string
	Name         *string
	Tags         *[]string
	Disabled     *bool
	// Config holds the configuration values as canonical strings; a key
	// mapped to nil was sent as JSON null (PATCH: remove the key).
	Config map[string]*string
	// HasConfig tells whether the body had a configuration object at all.
	HasConfig bool
}

// ignoredTopLevel are Cloud Elements fields older clients send that have no
// meaning in pollwire; they are accepted and ignored rather than refused.
var ignoredTopLevel = map[string]bool{
	"description": true, "providerData": true, "cacheTimeToLive": true, "maxCacheSize": true,
	"cachingEnabled": true, "externalAuthentication": true, "valid": true, "id": true,
	"token": true, "createdDate": true, "updatedDate": true, "eventsEnabled": true, "provisionInteractions": true,
}

// DecodeRequest parses an instance.json body. It checks the shape of the
// body (types of the top-level fields and configuration values); rules that
// need the connector's definition are checked by Build.
func DecodeRequest(body []byte) (*Request, error) {
	var ps problems
	// encoding/json would quietly turn invalid UTF-8 in strings into U+FFFD
	// but keep it in objects it only compacts, so a stored value would change
	// on its way back out; JSON must be UTF-8 (RFC 8259) anyway.
	if !utf8.Valid(body) {
		ps.add("", "body must be UTF-8 encoded JSON")
		return nil, ps.err()
	}
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&top); err != nil {
		ps.add("", "body must be a JSON object: "+jsonReason(err))
		return nil, ps.err()
	}
	// dec.More would miss a stray closing '}' or ']' after the object;
	// only a clean end of input proves there is nothing more.
	if _, err := dec.Token(); err != io.EOF {
		ps.add("", "body must hold one JSON object and nothing after it")
		return nil, ps.err()
	}
	if top == nil {
		ps.add("", "body must be a JSON object, not null")
		return nil, ps.err()
	}
	req := &Request{}

	keys := sortedKeys(top)
	for _, k := range keys {
		raw := top[k]
		switch k {
		case "connector", "element":
			key, msg := decodeConnectorRef(raw)
			if msg != "" {
				ps.add(Path(k, "key"), msg)
				continue
			}
			if req.ConnectorKey != nil && *req.ConnectorKey != key {
				ps.add(Path(k, "key"), fmt.Sprintf("%q contradicts connector.key %q; send one of connector or element", key, *req.ConnectorKey))
				continue
			}
			req.ConnectorKey = &key
		case "name":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				ps.add("name", "must be a string")
				continue
			}
			req.Name = &s
		case "tags":
			if isNull(raw) {
				empty := []string{}
				req.Tags = &empty
				continue
			}
			var tags []string
			if err := json.Unmarshal(raw, &tags); err != nil {
				ps.add("tags", "must be an array of strings")
				continue
			}
			req.Tags = &tags
		case "disabled":
			var b bool
			if err := json.Unmarshal(raw, &b); err != nil {
				ps.add("disabled", "must be true or false")
				continue
			}
			req.Disabled = &b
		case "configuration":
			cfg, cps := decodeConfiguration(raw)
			ps = append(ps, cps...)
			req.Config = cfg
			req.HasConfig = cfg != nil
		default:
			if !ignoredTopLevel[k] {
				ps.add(Path(k), "unknown field; instance.json takes connector (or element), name, tags, configuration and disabled")
			}
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return req, nil
}

func decodeConnectorRef(raw json.RawMessage) (string, string) {
	var ref map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ref); err != nil || ref == nil {
		return "", `must be an object like {"key": "closeio"}`
	}
	rk, ok := ref["key"]
	if !ok {
		return "", "required"
	}
	var key string
	if err := json.Unmarshal(rk, &key); err != nil {
		return "", "must be a string"
	}
	if strings.TrimSpace(key) == "" {
		return "", "must not be empty"
	}
	return key, ""
}

func decodeConfiguration(raw json.RawMessage) (map[string]*string, problems) {
	var ps problems
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		ps.add("configuration", "must be an object of configuration keys")
		return nil, ps
	}
	cfg := make(map[string]*string, len(obj))
	for k, v := range obj {
		if strings.TrimSpace(k) == "" {
			ps.add(Path("configuration", k), "configuration keys must not be empty")
			continue
		}
		s, null, msg := canonical(v)
		if msg != "" {
			ps.add(Path("configuration", k), msg)
			continue
		}
		if null {
			cfg[k] = nil
			continue
		}
		cfg[k] = &s
	}
	return cfg, ps
}

// canonical turns a configuration value into its canonical string: strings
// as they are, numbers and booleans as their JSON text, objects and arrays as
// compact JSON.
func canonical(v json.RawMessage) (s string, null bool, msg string) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false, "must have a value"
	}
	switch v[0] {
	case 'n':
		return "", true, ""
	case '"':
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false, "must be a valid string"
		}
		return s, false, ""
	case 't', 'f':
		return string(v), false, ""
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return "", false, "must be valid JSON"
		}
		return b.String(), false, ""
	default:
		return string(v), false, "" // a json.Number, already validated by the decoder
	}
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("found %s", te.Value)
	}
	return err.Error()
}
