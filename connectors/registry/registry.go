// Package registry lists the connectors pollwire ships. Adding a connector
// means adding its folder and one line here.
package registry

import (
	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/closeio"
	"github.com/pollwire/pollwire/connectors/hubspot"
	"github.com/pollwire/pollwire/connectors/rest"
	"github.com/pollwire/pollwire/connectors/salesforce"
	"github.com/pollwire/pollwire/connectors/source"
)

// Default returns the catalog of built-in connectors.
func Default() connectors.List {
	return connectors.List{
		closeio.Spec,
		hubspot.Spec,
		salesforce.Spec,
		rest.Spec,
	}
}

// Sources returns the connectors that can poll, by key.
func Sources() map[string]source.Source {
	return map[string]source.Source{
		rest.Key:       rest.New(),
		closeio.Key:    closeio.New(),
		hubspot.Key:    hubspot.New(),
		salesforce.Key: salesforce.New(),
	}
}

// Webhooks picks the sources that also verify and read vendor pushes.
func Webhooks(sources map[string]source.Source) map[string]source.Webhook {
	out := map[string]source.Webhook{}
	for k, s := range sources {
		if w, ok := s.(source.Webhook); ok {
			out[k] = w
		}
	}
	return out
}

// Subscribers picks the sources that register pollwire's webhook with the
// vendor themselves.
func Subscribers(sources map[string]source.Source) map[string]source.Subscriber {
	out := map[string]source.Subscriber{}
	for k, s := range sources {
		if w, ok := s.(source.Subscriber); ok {
			out[k] = w
		}
	}
	return out
}
