package vendorio

import (
	"strings"

	"github.com/tidwall/gjson"
)

// MessageAt returns the vendor's explanation in a JSON error body: the
// first of paths that holds a string not blank, made one line and cut to
// 500 bytes. ok is false when none does. body is small (ErrorBodyLimit)
// and checked to be JSON by the caller.
func MessageAt(body []byte, paths ...string) (msg string, ok bool) {
	for _, path := range paths {
		// Error bodies are small, so the copy GetBytes makes does not
		// matter.
		if r := gjson.GetBytes(body, path); r.Type == gjson.String && strings.TrimSpace(r.Str) != "" {
			return Clip(OneLine(r.Str), 500), true
		}
	}
	return "", false
}

// Excerpt stands for an error body that explains nothing the connector
// can find: its first 200 bytes on one line, or "empty response body".
func Excerpt(body []byte) string {
	if ex := Clip(OneLine(string(body)), 200); ex != "" {
		return ex
	}
	return "empty response body"
}
