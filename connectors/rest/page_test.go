package rest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors/internal/vendorio"
)

func TestParsePage(t *testing.T) {
	offset := Pagination{Type: PageOffset, HasMorePath: "meta.more"}
	cursor := Pagination{Type: PageCursor, CursorPath: "next"}
	next := Pagination{Type: PageNext, NextPath: "links.next"}
	cases := []struct {
		name, body, path string
		pg               Pagination
		records          []string
		more             bool
		cursor, next     string
		err              string
	}{
		{name: "array body", body: ` [ {"a":1} , [2], "s", 3, null ] `, records: []string{`{"a":1}`, `[2]`, `"s"`, `3`, `null`}},
		{name: "has more", body: `{"rows":[{"a":1}],"meta":{"more":true}}`, path: "rows", pg: offset, records: []string{`{"a":1}`}, more: true},
		{name: "has more as a string", body: `{"rows":[],"meta":{"more":"true"}}`, path: "rows", pg: offset, more: true},
		{name: "string cursor", body: `{"data":[1],"next":"abc"}`, path: "data", pg: cursor, records: []string{"1"}, cursor: "abc"},
		{name: "numeric cursor keeps its digits", body: `{"data":[],"next":12345678901234567890}`, path: "data", pg: cursor, cursor: "12345678901234567890"},
		{name: "null cursor", body: `{"data":[],"next":null}`, path: "data", pg: cursor},
		{name: "false cursor", body: `{"data":[],"next":false}`, path: "data", pg: cursor},
		{name: "next URL", body: `{"data":[],"links":{"next":"https://h/p?page=2"}}`, path: "data", pg: next, next: "https://h/p?page=2"},
		{name: "escaped record", body: `[{"s":"a\"]b"},{"u":"\u00e9"}]`, records: []string{`{"s":"a\"]b"}`, `{"u":"\u00e9"}`}},
		{name: "invalid", body: `[1,]`, err: "invalid JSON in response: invalid character ']'"},
		{name: "trailing garbage", body: `[1] [2]`, err: "invalid JSON in response"},
		{name: "too deep", body: strings.Repeat("[", vendorio.MaxDepth+1) + strings.Repeat("]", vendorio.MaxDepth+1), err: "nested more than 10000 deep"},
		{name: "deep but allowed", body: "[" + strings.Repeat("[", vendorio.MaxDepth-1) + strings.Repeat("]", vendorio.MaxDepth-1) + "]", records: []string{strings.Repeat("[", vendorio.MaxDepth-1) + strings.Repeat("]", vendorio.MaxDepth-1)}},
		{name: "string records path", body: `{"data":"x"}`, path: "data", err: `recordsPath "data" is a string, not an array`},
		{name: "number body", body: `42`, err: "the response is a number, not an array"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pg, err := parsePage([]byte(tc.body), tc.path, &tc.pg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			n, err := pg.each(func(raw []byte) error { got = append(got, string(raw)); return nil })
			if err != nil || n != len(got) {
				t.Fatalf("each: %d, %v", n, err)
			}
			if strings.Join(got, "|") != strings.Join(tc.records, "|") {
				t.Errorf("records %q, want %q", got, tc.records)
			}
			if pg.hasMore != tc.more || pg.cursor != tc.cursor || pg.next != tc.next {
				t.Errorf("more %v cursor %q next %q", pg.hasMore, pg.cursor, pg.next)
			}
		})
	}
}

// TestPageRecordsAlias pins the zero-copy contract: records share the body,
// and their capacity stops at their end.
func TestPageRecordsAlias(t *testing.T) {
	body := []byte(`{"data":[{"id":1},{"id":2}]}`)
	pg, err := parsePage(body, "data", &Pagination{Type: PageNone})
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	if _, err := pg.each(func(raw []byte) error { recs = append(recs, raw); return nil }); err != nil {
		t.Fatal(err)
	}
	if &recs[0][0] != &body[9] || cap(recs[0]) != len(recs[0]) {
		t.Errorf("record 0 does not alias the body or has spare capacity")
	}
	_ = append(recs[0], 'X') // must not write into the body
	if string(body) != `{"data":[{"id":1},{"id":2}]}` {
		t.Errorf("append changed the body: %s", body)
	}
}

// FuzzPollPage feeds arbitrary page bodies (and records paths) through page
// parsing and record extraction under each pagination type: no panics,
// every record handed out is valid JSON, and there are as many as gjson
// counts.
func FuzzPollPage(f *testing.F) {
	seeds := []struct{ body, path string }{
		{`[{"id":1},{"id":2}]`, ""},
		{`{"data":[{"id":"a","n":{"x":[1,2]}}],"has_more":true,"next_cursor":"c1","next":"https://h/x?after=1"}`, "data"},
		{`{"items":null,"has_more":false}`, "items"},
		{`{"results":[1,"two",null,true,{"a":"\u00e9\"]"}],"next":null}`, "results"},
		{`{"a":{"b":[{"c":[1]},{"c":[2]}]}}`, "a.b.#.c"},
		{`{"data":[{"id":2},{"id":1}]}`, "data|@reverse"},
		{`{"data":[{"id":2},{"id":1}]}`, "data.#(id>1)#"},
		{"\xEF\xBB\xBF[1]", ""},
		{`{"data": [`, "data"},
		{`[[[[[[[[[[]]]]]]]]]]`, "0.0.0"},
		{`{"data":"not an array"}`, "data"},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.path)
	}
	types := []Pagination{
		{Type: PageNone},
		{Type: PageOffset, HasMorePath: "has_more"},
		{Type: PageCursor, CursorPath: "next_cursor", HasMorePath: "has_more"},
		{Type: PageNext, NextPath: "next"},
	}
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		orig := bytes.Clone(body)
		for i := range types {
			pg, err := parsePage(body, path, &types[i])
			if err != nil {
				if !strings.Contains(err.Error(), "JSON") && !strings.Contains(err.Error(), "Path") && !strings.Contains(err.Error(), "response") {
					t.Fatalf("unexplained error %v", err)
				}
				continue
			}
			want := len(pg.records.Array())
			n, err := pg.each(func(raw []byte) error {
				if !gjson.ValidBytes(raw) {
					t.Fatalf("record %q of %q is not JSON", raw, body)
				}
				return nil
			})
			if err != nil || n != want {
				t.Fatalf("each: %d records, %v; gjson counts %d", n, err, want)
			}
		}
		if !bytes.Equal(body, orig) {
			t.Fatalf("parsing changed the body")
		}
		// The error paths read arbitrary bodies too.
		_ = vendorMessage(body)
		_ = linkNext([]string{string(body)})
	})
}
