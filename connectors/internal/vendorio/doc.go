// Package vendor holds the helpers the connectors share for talking to a
// vendor's HTTP JSON API: validating and describing JSON bodies, cutting
// vendor text down for messages, Retry-After and deadlines, reading bodies
// with a size limit and describing transport failures.
//
// Each connector keeps what is its vendor's own (error-body shapes, URL
// redaction, paging); only logic that is the same for all of them lives
// here. The package is internal to connectors.
package vendorio
