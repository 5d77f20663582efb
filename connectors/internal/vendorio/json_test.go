package vendorio

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestDepthWithin(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want bool
	}{
		{``, 0, true},
		{`1`, 0, true},
		{`[]`, 0, false},
		{`[]`, 1, true},
		{`{"a":[{"b":[]}]}`, 4, true},
		{`{"a":[{"b":[]}]}`, 3, false},
		// Brackets inside strings do not count, escaped quotes do not end
		// them.
		{`["[[[[", "\"[[[["]`, 1, true},
		{`["\\", [[]]]`, 2, false},
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), MaxDepth, true},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), MaxDepth, false},
	}
	for _, tc := range cases {
		if got := DepthWithin([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("DepthWithin(%.40q, %d) = %v, want %v", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestValidJSON(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want bool
	}{
		{`{"a":[1,2]}`, MaxDepth, true},
		{`  "s"  `, MaxDepth, true},
		{``, MaxDepth, false},
		{`{"a":}`, MaxDepth, false},
		{`[1] [2]`, MaxDepth, false},
		{`[[1]]`, 1, false},
		// Nesting gjson's recursive validator must never see.
		{strings.Repeat("[", 100_000), MaxDepth, false},
	}
	for _, tc := range cases {
		if got := ValidJSON([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("ValidJSON(%.40q, %d) = %v, want %v", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestInvalidJSON(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"", MaxDepth, "invalid JSON in response: empty body"},
		{" \n\t", MaxDepth, "invalid JSON in response: empty body"},
		{"[[[", 2, "invalid JSON in response: nested more than 2 deep"},
		{strings.Repeat("[", MaxDepth+1), MaxDepth, "invalid JSON in response: nested more than 10000 deep"},
		{`{"a":}`, MaxDepth, `invalid JSON in response: invalid character '}' looking for beginning of value at byte 6, starting "{\"a\":}"`},
		{"<html>\n<body>Bad Gateway</body>", MaxDepth, `invalid JSON in response: invalid character '<' looking for beginning of value at byte 1, starting "<html> <body>Bad Gateway</body>"`},
		{strings.Repeat("x", 100), MaxDepth, `at byte 1, starting "` + strings.Repeat("x", 60) + `…"`},
	}
	for _, tc := range cases {
		err := InvalidJSON([]byte(tc.in), tc.max)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("InvalidJSON(%.40q, %d) = %v, want %q", tc.in, tc.max, err, tc.want)
		}
	}
}

func TestKind(t *testing.T) {
	doc := gjson.Parse(`{"o":{},"a":[],"s":"x","n":1.5,"t":true,"f":false,"z":null}`)
	cases := []struct{ path, want string }{
		{"o", "an object"},
		{"a", "an array"},
		{"s", "a string"},
		{"n", "a number"},
		{"t", "a boolean"},
		{"f", "a boolean"},
		{"z", "null"},
		{"nope", "missing"},
	}
	for _, tc := range cases {
		if got := Kind(doc.Get(tc.path)); got != tc.want {
			t.Errorf("Kind(%s) = %q, want %q", tc.path, got, tc.want)
		}
	}
}
