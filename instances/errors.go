package instances

import (
	"errors"
	"regexp"
	"strings"
)

// ErrInvalid is returned (wrapped in a *ValidationError) when an instance
// body breaks a rule; errors.Is(err, ErrInvalid) tells validation failures
// from other errors.
var ErrInvalid = errors.New("invalid instance")

// FieldError names one problem: the path of the offending value, written as
// in the documentation (`configuration."event.poller.configuration".contacts.url`),
// and the reason.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError lists every problem found in an instance body.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	if len(e.Errors) == 0 {
		return ErrInvalid.Error()
	}
	var b strings.Builder
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		if fe.Path != "" {
			b.WriteString(fe.Path)
			b.WriteString(": ")
		}
		b.WriteString(fe.Message)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

var plainSegment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Path joins path segments, quoting the ones that are not plain identifiers
// (configuration keys contain dots).
func Path(segments ...string) string {
	var b strings.Builder
	for i, s := range segments {
		if i > 0 {
			b.WriteByte('.')
		}
		if plainSegment.MatchString(s) {
			b.WriteString(s)
		} else {
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(s, `"`, `\"`))
			b.WriteByte('"')
		}
	}
	return b.String()
}

// problems collects field errors.
type problems []FieldError

func (p *problems) add(path, msg string) { *p = append(*p, FieldError{Path: path, Message: msg}) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Errors: p}
}
