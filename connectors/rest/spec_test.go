package rest

import (
	"fmt"
	"strings"
	"testing"
)

func TestParsePagination(t *testing.T) {
	cases := []struct {
		raw  string
		want string // the completed settings, or part of the error
	}{
		{``, "type=none offset= limit= page= first=<nil> cursor="},
		{`{"type":"none","limitParam":"x"}`, "type=none offset= limit=x page= first=<nil> cursor="},
		{`{"type":"offset"}`, "type=offset offset=offset limit=limit page= first=<nil> cursor="},
		{`{"type":"page"}`, "type=page offset= limit=limit page=page first=1 cursor="},
		{`{"type":"page","firstPage":0,"limitParam":"per_page"}`, "type=page offset= limit=per_page page=page first=0 cursor="},
		{`{"type":"cursor","cursorPath":"next"}`, "type=cursor offset= limit=limit page= first=<nil> cursor=cursor"},
		{`{"type":"next"}`, "type=next offset= limit=limit page= first=<nil> cursor="},
		// Fields of other types do not clash with the limit.
		{`{"type":"cursor","cursorPath":"c","offsetParam":"limit"}`, "type=cursor offset=limit limit=limit page= first=<nil> cursor=cursor"},
		{`{"type":"cursor"}`, "cursorPath is required"},
		{`{"type":"page","firstPage":-1}`, "firstPage must not be negative"},
		{`{"type":"offset","offsetParam":"limit"}`, "offsetParam and limitParam must differ"},
		{`{"type":"page","pageParam":"n","limitParam":"n"}`, "pageParam and limitParam must differ"},
		{`{"type":"cursor","cursorPath":"c","cursorParam":"limit"}`, "cursorParam and limitParam must differ"},
		{`{"type":"scroll"}`, `type "scroll" is not one of`},
		{`"offset"`, "must be an object"},
	}
	for _, tc := range cases {
		p, err := ParsePagination(tc.raw)
		if err != nil {
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePagination(%s): %v, want %q", tc.raw, err, tc.want)
			}
			continue
		}
		first := "<nil>"
		if p.FirstPage != nil {
			first = fmt.Sprint(*p.FirstPage)
		}
		got := fmt.Sprintf("type=%s offset=%s limit=%s page=%s first=%s cursor=%s", p.Type, p.OffsetParam, p.LimitParam, p.PageParam, first, p.CursorParam)
		if got != tc.want {
			t.Errorf("ParsePagination(%s) = %s, want %s", tc.raw, got, tc.want)
		}
	}
}
