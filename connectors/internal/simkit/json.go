package simkit

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// WriteJSON answers with status and v as JSON, typed contentType and with
// its Content-Length; a v that does not marshal is a 500.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	WriteRaw(w, status, contentType, b)
}

// WriteRaw answers with status and the JSON b, typed contentType and with
// its Content-Length.
func WriteRaw(w http.ResponseWriter, status int, contentType string, b []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteJSONString writes s as a JSON string, or null when empty.
func WriteJSONString(buf *bytes.Buffer, s string) {
	if s == "" {
		buf.WriteString("null")
		return
	}
	b, _ := json.Marshal(s)
	buf.Write(b)
}
