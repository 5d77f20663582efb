package store

import "errors"

var (
	// ErrNotFound is returned when the instance, token or meta key asked for
	// is not in the store.
	ErrNotFound = errors.New("not found")

	// ErrConflict is returned when a write would break a uniqueness rule,
	// such as two instances sharing a token.
	ErrConflict = errors.New("conflict")

	// ErrLocked is returned by Open when another process holds the store
	// file, which means another pollwire is running on the same data
	// directory.
	ErrLocked = errors.New("store is locked by another process")

	// ErrWrongKey is returned by Open when the master key cannot open what
	// the same file was sealed with before.
	ErrWrongKey = errors.New("wrong master key")

	// ErrSchemaTooNew is returned by Open when the file was written by a
	// newer pollwire whose schema this binary does not know.
	ErrSchemaTooNew = errors.New("store schema is newer than this pollwire")
)
