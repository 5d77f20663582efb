package vendorio

import (
	"strings"
	"testing"
)

func TestOneLine(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"  plain  ", "plain"},
		{"bad\x00gateway\n", "bad gateway"},
		{"a\r\nb\tc\x7fd", "a  b c d"},
		{"\xff\xfe", "\uFFFD"},
		{"ünïcödé", "ünïcödé"},
	}
	for _, tc := range cases {
		if got := OneLine(tc.in); got != tc.want {
			t.Errorf("OneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestClip(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"", 5, ""},
		{"short", 5, "short"},
		{"longer", 5, "longe…"},
		{strings.Repeat("x", 300), 200, strings.Repeat("x", 200) + "…"},
		// "é" is two bytes: a cut inside it moves back to its start.
		{"aé", 2, "a…"},
		{"éé", 3, "é…"},
		{"é", 1, "…"},
	}
	for _, tc := range cases {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
