package secrets

import "errors"

// ErrDecrypt is returned when a sealed value cannot be opened: it was sealed
// with another key or another aad, it was altered, it is truncated, or its
// version byte is unknown. The causes are deliberately not told apart, so the
// error reveals nothing to whoever tampered with the value.
var ErrDecrypt = errors.New("secrets: cannot decrypt sealed value (wrong master key, wrong context or corrupted data)")
