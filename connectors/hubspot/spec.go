// Package hubspot is the HubSpot CRM v3 connector: its definition, the
// translation of CEQL poller queries into CRM search requests, the vendor
// logic that polls them (auth, seek paging, rate limits, deletions) and a
// simulator of the parts of HubSpot's API it uses.
package hubspot

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pollwire/pollwire/connectors"
)

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
	// KeyTimeZone is the HubSpot account's time zone: its daily API limit
	// resets at midnight there.
	KeyTimeZone = "hubspot.account.timezone"
)

// Authentication types.
const (
	AuthPrivateApp = "private-app"
	AuthOAuth2     = "oauth2"
)

// Per-resource poller fields of the HubSpot connector.
const (
	// FieldObjectType picks the engagement type the activities resource
	// searches (default calls).
	FieldObjectType = "objectType"
	// FieldProperties names HubSpot properties to return besides the
	// object's defaults and those the where clause uses.
	FieldProperties = "properties"
	// FieldDeletions turns the archived listing (DELETED events) on or off.
	FieldDeletions = "deletions"
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
		{Name: KeyTimeZone, Kind: connectors.KindString, Default: "UTC", Description: "IANA zone of the HubSpot account (Settings > Account defaults); its daily API limit resets at midnight there, and polling pauses until then when it is spent."},
	},
	Resources: []string{"contacts", "accounts", "opportunities", "activities"},
	// HubSpot drops zero milliseconds ("…:39Z"), so its dates read as RFC 3339.
	HubDefaults: connectors.HubDefaults{IDField: "id", UpdatedField: "updatedAt", CreatedField: "createdAt"},
	ResourceFields: []connectors.ConfigKey{
		{Name: FieldObjectType, Kind: connectors.KindEnum, Default: "calls", Values: EngagementTypes, Description: "For /hubs/crm/activities: the engagement type searched (calls, emails, meetings, notes or tasks)."},
		{Name: FieldProperties, Kind: connectors.KindJSON, Description: `HubSpot properties returned besides the object's defaults and those the where clause names: a JSON array of names or one comma-separated string.`},
		{Name: FieldDeletions, Kind: connectors.KindBoolean, Default: "true", Description: "Report archived records as DELETED events (one extra listing of the archived records per poll)."},
	},
	Polling:          true,
	Webhooks:         true,
	Validate:         validate,
	ValidateResource: validateResource,
	// A where clause HubSpot search cannot express is refused at
	// provisioning, naming the clause, rather than failing every poll.
	ValidateQuery: ValidateQuery,
}

func validate(cfg map[string]string) []connectors.Problem {
	var ps []connectors.Problem
	switch cfg[KeyAuthType] {
	case "", AuthPrivateApp:
		if cfg[KeyAccessToken] == "" {
			ps = append(ps, connectors.Problem{Key: KeyAccessToken, Message: "required for authentication.type private-app"})
		}
	case AuthOAuth2:
		for _, k := range []string{KeyClientID, KeyClientSecret, KeyRefreshToken} {
			if cfg[k] == "" {
				ps = append(ps, connectors.Problem{Key: k, Message: "required for authentication.type oauth2"})
			}
		}
	}
	if vt := cfg[connectors.KeyVendorType]; (vt == "webhook" || vt == "webhooks") &&
		strings.TrimSpace(cfg[connectors.KeyWebhookSecret]) == "" && strings.TrimSpace(cfg[KeyClientSecret]) == "" {
		// HubSpot signs webhooks with the app's client secret; without it no
		// push could be verified, and every one would be refused.
		ps = append(ps, connectors.Problem{Key: connectors.KeyWebhookSecret, Message: "required for event.vendor.type webhook unless oauth.api.secret is set: HubSpot signs webhooks with the app's client secret"})
	}
	if z := cfg[KeyTimeZone]; z != "" {
		if _, err := time.LoadLocation(z); err != nil {
			ps = append(ps, connectors.Problem{Key: KeyTimeZone, Message: fmt.Sprintf("unknown time zone %q; use an IANA name such as America/New_York", z)})
		}
	}
	return ps
}

func validateResource(_ string, fields map[string]string) []connectors.Problem {
	var ps []connectors.Problem
	if t, ok := fields[FieldObjectType]; ok && !slices.Contains(EngagementTypes, t) {
		ps = append(ps, connectors.Problem{Key: FieldObjectType, Message: "must be one of " + strings.Join(EngagementTypes, ", ")})
	}
	if raw, ok := fields[FieldProperties]; ok {
		if _, err := parseProperties(raw); err != nil {
			ps = append(ps, connectors.Problem{Key: FieldProperties, Message: err.Error()})
		}
	}
	if v, ok := fields[FieldDeletions]; ok && v != "true" && v != "false" {
		ps = append(ps, connectors.Problem{Key: FieldDeletions, Message: "must be true or false"})
	}
	return ps
}

// parseProperties reads the properties field: a JSON array of names or a
// comma-separated string. Names must be HubSpot internal property names.
func parseProperties(raw string) ([]string, error) {
	raw = strings.TrimSpace(raw)
	var names []string
	if strings.HasPrefix(raw, "[") {
		if err := json.Unmarshal([]byte(raw), &names); err != nil {
			return nil, fmt.Errorf("must be an array of property names or a comma-separated string")
		}
	} else {
		for n := range strings.SplitSeq(raw, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	out := names[:0]
	for _, n := range names {
		if n == "" {
			continue
		}
		if !isPropertyName(n) {
			return nil, fmt.Errorf("%q is not a HubSpot property name (lowercase letters, digits and underscores)", n)
		}
		out = append(out, n)
	}
	return out, nil
}
