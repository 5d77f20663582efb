// Package salesforce is the Salesforce connector (REST API, JWT bearer auth).
package salesforce

import (
	"encoding/json"
	"encoding/pem"

	"github.com/pollwire/pollwire/connectors"
)

// Key is the connector key used in instance.json.
const Key = "salesforce"

// DefaultLoginURL is where JWT assertions are exchanged for tokens.
const DefaultLoginURL = "https://login.salesforce.com"

// Configuration keys of the Salesforce connector.
const (
	KeyConsumerKey = "oauth.api.key"
	KeyUsername    = "salesforce.username"
	KeyPrivateKey  = "oauth.private.key"
	KeyLoginURL    = "salesforce.login.url"
)

// Per-resource poller fields of the Salesforce connector.
const (
	// FieldFields replaces a hub resource's default SELECT list.
	FieldFields = "fields"
	// FieldDeletions turns getDeleted off for a hub resource ("false").
	FieldDeletions = "deletions"
)

// Spec is the Salesforce connector's definition.
var Spec = &connectors.Spec{
	Key:         Key,
	Name:        "Salesforce Sales Cloud",
	Description: "Salesforce: contacts, accounts, opportunities, leads and activities (Task) via SOQL on SystemModstamp.",
	Hub:         connectors.Hub,
	AuthType:    "oauth2-jwt-bearer",
	Config: []connectors.ConfigKey{
		{Name: KeyConsumerKey, Kind: connectors.KindString, Required: true, Description: "Connected app consumer key (the JWT iss)."},
		{Name: KeyUsername, Kind: connectors.KindString, Required: true, Description: "Salesforce user name (the JWT sub)."},
		{Name: KeyPrivateKey, Kind: connectors.KindSecret, Required: true, Secret: true, Description: "PEM RSA private key that signs the JWT assertion (RS256)."},
		{Name: KeyLoginURL, Kind: connectors.KindURL, Default: DefaultLoginURL, Description: "Token endpoint host and JWT audience (https://test.salesforce.com for sandboxes)."},
	},
	Resources: []string{"contacts", "accounts", "opportunities", "leads", "activities"},
	HubDefaults: connectors.HubDefaults{
		IDField:      "Id",
		UpdatedField: "SystemModstamp", UpdatedFormat: "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
		CreatedField: "CreatedDate", CreatedFormat: "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
	},
	ResourceFields: []connectors.ConfigKey{
		{Name: FieldFields, Kind: connectors.KindString, Description: "Hub resources: the SOQL SELECT list, as a list or a comma-separated string, instead of the resource's default fields; Id, CreatedDate and SystemModstamp are always added."},
		{Name: FieldDeletions, Kind: connectors.KindBoolean, Default: "true", Description: "Hub resources: report deletions (DELETED events) through getDeleted, one more API request per poll. Deletions ignore the where clause."},
	},
	Polling:          true,
	Validate:         validate,
	ValidateResource: validateResource,
	ValidateQuery:    ValidateQuery,
}

func validate(cfg map[string]string) []connectors.Problem {
	pk := cfg[KeyPrivateKey]
	if pk == "" {
		return nil // the required check reports it
	}
	if block, _ := pem.Decode([]byte(pk)); block == nil {
		return []connectors.Problem{{Key: KeyPrivateKey, Message: "must be a PEM-encoded RSA private key"}}
	}
	if _, err := parsePrivateKey(pk); err != nil {
		return []connectors.Problem{{Key: KeyPrivateKey, Message: "must be a PEM-encoded RSA private key (PKCS#1 or PKCS#8)"}}
	}
	return nil
}

func validateResource(_ string, fields map[string]string) []connectors.Problem {
	if _, err := parseFields(fields[FieldFields]); err != nil {
		return []connectors.Problem{{Key: FieldFields, Message: err.Error()}}
	}
	return nil
}

// jsonStrings decodes a JSON array of strings.
func jsonStrings(v string, out *[]string) error {
	return json.Unmarshal([]byte(v), out)
}
