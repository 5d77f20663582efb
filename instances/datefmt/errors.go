package datefmt

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalidPattern is returned (wrapped in a *PatternError) when a pattern is
// not a valid java.time.format.DateTimeFormatter pattern: an unknown letter,
// too many letters for a field, an unterminated quote, a reserved character.
var ErrInvalidPattern = errors.New("invalid date pattern")

// ErrUnsupportedPattern is returned (wrapped in a *PatternError) when a
// pattern is valid Java but uses a feature datefmt does not implement, such as
// eras, quarters, week-based fields, zone names or optional sections.
var ErrUnsupportedPattern = errors.New("date pattern not supported")

// PatternError describes why Compile rejected a pattern.
type PatternError struct {
	Pattern string // the pattern as given
	Pos     int    // byte offset of the offending part in Pattern
	Part    string // the offending letters or character, e.g. "XXXXXX"; empty for an empty pattern
	Reason  string
	Err     error // ErrInvalidPattern or ErrUnsupportedPattern
}

func (e *PatternError) Error() string {
	if e.Part == "" {
		return fmt.Sprintf("date pattern %q: %s", e.Pattern, e.Reason)
	}
	return fmt.Sprintf("date pattern %q: %q at position %d: %s", e.Pattern, e.Part, e.Pos, e.Reason)
}

// Unwrap returns ErrInvalidPattern or ErrUnsupportedPattern.
func (e *PatternError) Unwrap() error { return e.Err }

// ParseError describes why Parse rejected a text.
type ParseError struct {
	Pattern string // the layout's pattern
	Input   string // the text given to Parse
	Pos     int    // byte offset in Input where parsing failed
	Reason  string // what was expected there, or which value is wrong
}

// maxQuotedInput bounds how much of the input an error message repeats, so a
// huge vendor value cannot flood logs.
const maxQuotedInput = 64

func (e *ParseError) Error() string {
	in := e.Input
	suffix := ""
	if len(in) > maxQuotedInput {
		in, suffix = in[:maxQuotedInput], "..."
	}
	return fmt.Sprintf("cannot parse %s%s as %q: at position %d: %s",
		strconv.Quote(in), suffix, e.Pattern, e.Pos, e.Reason)
}
