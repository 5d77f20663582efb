package vendorio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
)

// MaxDepth is the usual bound on the nesting of a vendor's answer: gjson
// validates recursively, so a 64 MiB body of "[[[[…" would otherwise
// overflow the goroutine stack, a crash no recover catches. encoding/json
// uses the same bound.
const MaxDepth = 10_000

// ValidJSON reports whether b is one JSON value nested at most maxDepth
// deep.
func ValidJSON(b []byte, maxDepth int) bool {
	return DepthWithin(b, maxDepth) && gjson.ValidBytes(b)
}

// DepthWithin reports whether the brackets of b, outside strings, nest at
// most max deep. It runs before gjson's recursive validator, which would
// otherwise recurse once per bracket.
func DepthWithin(b []byte, max int) bool {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > max {
				return false
			}
		case ']', '}':
			depth--
		}
	}
	return true
}

// InvalidJSON explains why body, which ValidJSON refused with maxDepth, is
// not JSON. It runs only on failure, so encoding/json's slower scanner may
// say where.
func InvalidJSON(body []byte, maxDepth int) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("invalid JSON in response: empty body")
	}
	if !DepthWithin(body, maxDepth) {
		return fmt.Errorf("invalid JSON in response: nested more than %d deep", maxDepth)
	}
	var v json.RawMessage
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON in response: %s at byte %d, starting %q", se.Error(), se.Offset, Clip(OneLine(string(body)), 60))
	case err != nil:
		// Not reached in the default build: encoding/json fails to decode
		// into a RawMessage only with a *SyntaxError.
		return fmt.Errorf("invalid JSON in response: %s", err.Error())
	}
	return fmt.Errorf("invalid JSON in response, starting %q", Clip(OneLine(string(body)), 60))
}

// Kind names r's JSON type for messages: "an object", "an array", "a
// string", "a number", "a boolean", "null", or "missing" when r does not
// exist.
func Kind(r gjson.Result) string {
	switch {
	case !r.Exists():
		return "missing"
	case r.IsObject():
		return "an object"
	case r.IsArray():
		return "an array"
	case r.Type == gjson.String:
		return "a string"
	case r.Type == gjson.Number:
		return "a number"
	case r.Type == gjson.True, r.Type == gjson.False:
		return "a boolean"
	}
	return "null"
}
