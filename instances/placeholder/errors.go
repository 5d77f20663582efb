package placeholder

import (
	"errors"
	"fmt"
	"strconv"
)

// errEmptyZone is returned (wrapped in an *Error) when ${dateTimeZone::FMT}
// names no zone.
var errEmptyZone = errors.New("empty zone name")

// errLocalZone is returned (wrapped in an *Error) when ${dateTimeZone:Local:FMT}
// names the server's zone, which ${date:FMT} is for.
var errLocalZone = errors.New(`zone "Local" is the server's zone; use ${date:FMT}`)

// Error describes why Parse rejected a URL template.
type Error struct {
	Offset      int    // byte offset of the placeholder's "${" in the template
	Placeholder string // the placeholder as written, up to its '}' or the end of the template
	Reason      string
	Err         error // the underlying error, such as a *datefmt.PatternError, if any
}

// maxQuoted bounds how much of a placeholder an error message repeats.
const maxQuoted = 80

func (e *Error) Error() string {
	ph := e.Placeholder
	suffix := ""
	if len(ph) > maxQuoted {
		ph, suffix = ph[:maxQuoted], "..."
	}
	return fmt.Sprintf("URL placeholder %s%s at offset %d: %s", strconv.Quote(ph), suffix, e.Offset, e.Reason)
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }
