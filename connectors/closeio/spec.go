// Package closeio is the Close (close.com) connector.
package closeio

import "github.com/pollwire/pollwire/connectors"

// Key is the connector key used in instance.json.
const Key = "closeio"

// DefaultBaseURL is Close's API root.
const DefaultBaseURL = "https://api.close.com/api/v1"

// Spec is the Close connector's definition.
var Spec = &connectors.Spec{
	Key:            Key,
	Name:           "Close.io",
	Description:    "Close CRM: leads (as accounts), contacts, opportunities and activities, polled or pushed by Close webhooks.",
	Hub:            connectors.Hub,
	AuthType:       "basic",
	DefaultBaseURL: DefaultBaseURL,
	Config: []connectors.ConfigKey{
		{Name: "username", Kind: connectors.KindSecret, Required: true, Secret: true, Description: "The Close API key (sent as the Basic auth user name)."},
		{Name: "password", Kind: connectors.KindSecret, Secret: true, Description: "Basic auth password; Close expects it empty."},
		// Secret although it grants nothing alone: Subscribe returns it with
		// the signature key, and the pair is stored (encrypted, masked) alike.
		{Name: KeyWebhookSubscriptionID, Kind: connectors.KindSecret, Secret: true, Description: "The id (whsub_…) of the Close webhook subscription pollwire created; set automatically by subscribing."},
	},
	Resources: []string{"contacts", "accounts", "opportunities", "activities"},
	HubDefaults: connectors.HubDefaults{
		IDField:      "id",
		UpdatedField: "date_updated", UpdatedFormat: "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
		CreatedField: "date_created", CreatedFormat: "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
	},
	Polling:  true,
	Webhooks: true,
	// A where Close cannot express is refused at provisioning, naming the
	// clause, rather than failing every poll.
	ValidateQuery: ValidateQuery,
}
