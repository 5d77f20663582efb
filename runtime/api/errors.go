package api

import (
	"errors"
	"net/http"

	"github.com/pollwire/pollwire/instances"
)

// Error is an error with the HTTP status and the body the admin API answers
// with. Handlers return it (or any error; unknown errors become 500s).
type Error struct {
	Status  int
	Message string
	Errors  []instances.FieldError
	Err     error // the cause, logged and never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Sentinel answers.
var (
	// ErrUnauthorized is returned when the Authorization header is missing or wrong.
	ErrUnauthorized = &Error{Status: http.StatusUnauthorized, Message: "missing or invalid Authorization: expected User <secret>, Organization <secret>"}
	// ErrNotFound is returned when no route or resource matches.
	ErrNotFound = &Error{Status: http.StatusNotFound, Message: "not found"}
)

func badRequest(msg string, fes ...instances.FieldError) *Error {
	return &Error{Status: http.StatusBadRequest, Message: msg, Errors: fes}
}

func notFound(msg string) *Error { return &Error{Status: http.StatusNotFound, Message: msg} }

// asAPIError maps any error to the answer it deserves.
func asAPIError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var ve *instances.ValidationError
	if errors.As(err, &ve) {
		return &Error{Status: http.StatusBadRequest, Message: "invalid instance: " + ve.Error(), Errors: ve.Errors}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: "request body is larger than 1 MiB"}
	}
	return &Error{Status: http.StatusInternalServerError, Message: "internal error", Err: err}
}
