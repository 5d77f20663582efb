// Package salesforce is the Salesforce connector (REST API, JWT bearer auth).
package salesforce

import (
	"crypto/x509"
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
	Polling:   true,
	Validate:  validate,
}

func validate(cfg map[string]string) []connectors.Problem {
	pk := cfg[KeyPrivateKey]
	if pk == "" {
		return nil // the required check reports it
	}
	block, _ := pem.Decode([]byte(pk))
	if block == nil {
		return []connectors.Problem{{Key: KeyPrivateKey, Message: "must be a PEM-encoded RSA private key"}}
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		return []connectors.Problem{{Key: KeyPrivateKey, Message: "must be a PEM-encoded RSA private key (PKCS#1 or PKCS#8)"}}
	}
	return nil
}
