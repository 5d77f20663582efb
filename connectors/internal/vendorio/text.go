package vendorio

import "strings"

// OneLine makes vendor text fit in a log line: control characters become
// spaces and invalid UTF-8 is replaced.
func OneLine(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Clip shortens s to at most n bytes on a rune boundary, marking the cut.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
