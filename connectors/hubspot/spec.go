// Package hubspot is the HubSpot CRM v3 connector.
package hubspot

import "github.com/pollwire/pollwire/connectors"

// Key is the connector key used in instance.json.
const Key = "hubspot"

// DefaultBaseURL is HubSpot's API root.
const DefaultBaseURL = "https://api.hubapi.com"

// Configuration keys of the HubSpot connector.
const (
	KeyAuthType     = "authentication.type"
	KeyAccessToken  = "hubspot.access.token"
	KeyClientID     = "oauth.api.key"
	KeyClientSecret = "oauth.api.secret"
	KeyRefreshToken = "oauth.refresh.token"
)

// Authentication types.
const (
	AuthPrivateApp = "private-app"
	AuthOAuth2     = "oauth2"
)

// Spec is the HubSpot connector's definition.
var Spec = &connectors.Spec{
	Key:            Key,
	Name:           "HubSpot CRM",
	Description:    "HubSpot CRM v3: contacts, companies (accounts), deals (opportunities) and engagements (activities).",
	Hub:            connectors.Hub,
	AuthType:       "oauth2",
	DefaultBaseURL: DefaultBaseURL,
	Config: []connectors.ConfigKey{
		{Name: KeyAuthType, Kind: connectors.KindEnum, Default: AuthPrivateApp, Values: []string{AuthPrivateApp, AuthOAuth2}, Description: "private-app (a private app's access token) or oauth2 (refresh-token flow)."},
		{Name: KeyAccessToken, Kind: connectors.KindSecret, Secret: true, Description: "Private app access token; required for private-app."},
		{Name: KeyClientID, Kind: connectors.KindString, Description: "OAuth client id; required for oauth2."},
		{Name: KeyClientSecret, Kind: connectors.KindSecret, Secret: true, Description: "OAuth client secret; required for oauth2; also verifies X-HubSpot-Signature-v3."},
		{Name: KeyRefreshToken, Kind: connectors.KindSecret, Secret: true, Description: "OAuth refresh token; required for oauth2. A rotated token is stored, encrypted."},
	},
	Resources: []string{"contacts", "accounts", "opportunities", "activities"},
	Polling:   true,
	Webhooks:  true,
	Validate:  validate,
}

func validate(cfg map[string]string) []connectors.Problem {
	switch cfg[KeyAuthType] {
	case "", AuthPrivateApp:
		if cfg[KeyAccessToken] == "" {
			return []connectors.Problem{{Key: KeyAccessToken, Message: "required for authentication.type private-app"}}
		}
	case AuthOAuth2:
		var ps []connectors.Problem
		for _, k := range []string{KeyClientID, KeyClientSecret, KeyRefreshToken} {
			if cfg[k] == "" {
				ps = append(ps, connectors.Problem{Key: k, Message: "required for authentication.type oauth2"})
			}
		}
		return ps
	}
	return nil
}
