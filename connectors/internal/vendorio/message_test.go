package vendorio

import (
	"strings"
	"testing"
)

func TestMessageAt(t *testing.T) {
	cases := []struct {
		body  string
		paths []string
		want  string
		ok    bool
	}{
		{`{"message":"m"}`, []string{"message"}, "m", true},
		{`{"error":"e","message":"m"}`, []string{"message", "error"}, "m", true},
		{`{"error":{"message":"em"}}`, []string{"error", "error.message"}, "em", true},
		{`{"message":"  ","error":"e"}`, []string{"message", "error"}, "e", true},
		{`{"message":"  "}`, []string{"message"}, "", false},
		{`{"message":42}`, []string{"message"}, "", false},
		{`{"message":"line one\nline two\t!"}`, []string{"message"}, "line one line two !", true},
		{`{"message":"` + strings.Repeat("m", 600) + `"}`, []string{"message"}, strings.Repeat("m", 500) + "…", true},
		{`{}`, nil, "", false},
	}
	for _, tc := range cases {
		got, ok := MessageAt([]byte(tc.body), tc.paths...)
		if got != tc.want || ok != tc.ok {
			t.Errorf("MessageAt(%.40q, %q) = %q, %v; want %q, %v", tc.body, tc.paths, got, ok, tc.want, tc.ok)
		}
	}
}

func TestExcerpt(t *testing.T) {
	cases := []struct{ body, want string }{
		{``, "empty response body"},
		{" \n ", "empty response body"},
		{"bad\x00gateway\n", "bad gateway"},
		{strings.Repeat("x", 300), strings.Repeat("x", 200) + "…"},
		{"\xff\xfe", "\uFFFD"},
	}
	for _, tc := range cases {
		if got := Excerpt([]byte(tc.body)); got != tc.want {
			t.Errorf("Excerpt(%.40q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
