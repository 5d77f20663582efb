package main

import (
	"time"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/instances"
)

// validateBody applies exactly the checks of POST /instances.
func validateBody(body []byte, cat connectors.Catalog) error {
	req, err := instances.DecodeRequest(body)
	if err != nil {
		return err
	}
	_, _, err = instances.New(req, cat, time.Now())
	return err
}
