package bench

import "errors"

// ErrConfig is returned when a Config cannot run: a count, duration or rate
// out of range.
var ErrConfig = errors.New("invalid bench configuration")

// ErrStoreExists is returned when Config.DataDir holds a store already: the
// bench provisions its own instances and must not mix them with others.
var ErrStoreExists = errors.New("the data directory holds a store already")
