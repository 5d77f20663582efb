package simkit

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusCreated, "application/json;charset=UTF-8", map[string]any{"id": "a<b"})
	if rec.Code != http.StatusCreated {
		t.Errorf("status %d, want 201", rec.Code)
	}
	if got, want := rec.Body.String(), `{"id":"a\u003cb"}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cl := rec.Header().Get("Content-Length"); cl != "17" {
		t.Errorf("Content-Length %q, want 17", cl)
	}

	rec = httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, "application/json", func() {})
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("a value that does not marshal: status %d, want 500", rec.Code)
	}
}

func TestWriteRaw(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteRaw(rec, http.StatusNotFound, "application/json", []byte(`{"error":"x"}`))
	if rec.Code != http.StatusNotFound || rec.Body.String() != `{"error":"x"}` ||
		rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Content-Length") != "13" {
		t.Errorf("WriteRaw: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

func TestWriteJSONString(t *testing.T) {
	for s, want := range map[string]string{"": "null", "a": `"a"`, `q"\`: `"q\"\\"`, "é\n": `"é\n"`} {
		var buf bytes.Buffer
		WriteJSONString(&buf, s)
		if buf.String() != want {
			t.Errorf("WriteJSONString(%q) = %s, want %s", s, buf.String(), want)
		}
	}
}
