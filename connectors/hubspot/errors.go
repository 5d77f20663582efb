package hubspot

import "errors"

// ErrSameMillisecond is returned (wrapped) when more records share one
// modification millisecond than one HubSpot search can page through
// (10,000): seeking cannot pass them, and offsets stop at the cap.
var ErrSameMillisecond = errors.New("too many records modified in the same millisecond")
