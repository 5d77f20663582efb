package rest

import (
	"strings"
	"testing"
)

func TestParsePagination(t *testing.T) {
	cases := []struct {
		raw  string
		want string // "type offset limit page first cursor" of the result, or the error
	}{
		{``, "none    0 "},
		{`{"type":"none","limitParam":"x"}`, "none  x  0 "},
		{`{"type":"offset"}`, "offset offset limit  0 "},
		{`{"type":"page"}`, "page  limit page 1 "},
		{`{"type":"page","firstPage":0,"limitParam":"per_page"}`, "page  per_page page 0 "},
		{`{"type":"cursor","cursorPath":"next"}`, "cursor  limit  0 cursor"},
		{`{"type":"next"}`, "next  limit  0 "},
		{`{"type":"cursor"}`, "cursorPath is required"},
		{`{"type":"page","firstPage":-1}`, "firstPage must not be negative"},
		{`{"type":"offset","offsetParam":"limit"}`, "offsetParam and limitParam must differ"},
		{`{"type":"page","pageParam":"n","limitParam":"n"}`, "pageParam and limitParam must differ"},
		{`{"type":"cursor","cursorPath":"c","cursorParam":"limit"}`, "cursorParam and limitParam must differ"},
		{`{"type":"cursor","cursorPath":"c","offsetParam":"limit"}`, "cursor  limit  0 cursor"}, // unused fields do not clash
		{`{"type":"scroll"}`, `type "scroll" is not one of`},
		{`"offset"`, "must be an object"},
	}
	for _, tc := range cases {
		p, err := ParsePagination(tc.raw)
		var got string
		if err != nil {
			got = err.Error()
		} else {
			first := 0
			if p.FirstPage != nil {
				first = *p.FirstPage
			}
			got = strings.Join([]string{p.Type, p.OffsetParam, p.LimitParam, p.PageParam, itoa(first), p.CursorParam}, " ")
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("ParsePagination(%s) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+n))) }
