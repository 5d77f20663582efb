// Package rest is the generic REST connector: any JSON API, with the auth,
// records path and pagination declared in the instance.
package rest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pollwire/pollwire/connectors"
)

// Key is the connector key used in instance.json.
const Key = "rest"

// Configuration keys of the rest connector.
const (
	KeyAuthType    = "authentication.type"
	KeyUsername    = "username"
	KeyPassword    = "password"
	KeyBearerToken = "bearer.token"
	KeyHeaderName  = "auth.header.name"
	KeyHeaderValue = "auth.header.value"
)

// Webhook configuration keys of the rest connector: how a vendor's pushes
// are verified and read. The secret is the common
// event.webhook.signature.key (connectors.KeyWebhookSecret).
const (
	// KeyWebhookSignatureHeader names the header carrying the HMAC-SHA256
	// signature. Default DefaultWebhookSignatureHeader.
	KeyWebhookSignatureHeader = "webhook.signature.header"
	// KeyWebhookSignatureEncoding is how the signature is written: hex
	// (default) or base64. A "sha256=" prefix is accepted either way.
	KeyWebhookSignatureEncoding = "webhook.signature.encoding"
	// KeyWebhookTimestampHeader, when set, names a header with the time of
	// the push (epoch seconds or milliseconds, or RFC 3339): the signed
	// message is then timestamp + "." + body, and pushes older than
	// source.MaxWebhookAge are refused.
	KeyWebhookTimestampHeader = "webhook.timestamp.header"
	// KeyWebhookRecordsPath is the gjson path of the pushed records: an
	// array, or one object. Default: the whole body.
	KeyWebhookRecordsPath = "webhook.records.path"
	// KeyWebhookRecordPath is the gjson path, inside each pushed item, of
	// the record itself (what the poller's idField and datesConfiguration
	// read), for vendors that wrap it: {"type": "updated", "data": {…}}.
	// Default: the item.
	KeyWebhookRecordPath = "webhook.record.path"
	// KeyWebhookResourcePath is the gjson path, inside each pushed item, of
	// the resource name (a poller resource such as contacts). Default: the
	// instance's only poller.
	KeyWebhookResourcePath = "webhook.resource.path"
	// KeyWebhookTypePath is the gjson path, inside each pushed item, of the
	// change type: created, updated or deleted. Default: every push is an
	// update.
	KeyWebhookTypePath = "webhook.type.path"
)

// Defaults and values of the webhook keys.
const (
	DefaultWebhookSignatureHeader = "X-Signature"
	EncodingHex                   = "hex"
	EncodingBase64                = "base64"
)

// Authentication types.
const (
	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	AuthHeader = "header"
)

// Per-resource fields of the rest connector.
const (
	FieldRecordsPath = "recordsPath"
	FieldPagination  = "pagination"
)

// Pagination types.
const (
	PageNone   = "none"
	PageOffset = "offset"
	PagePage   = "page"
	PageCursor = "cursor"
	PageNext   = "next"
)

// Spec is the rest connector's definition.
var Spec = &connectors.Spec{
	Key:         Key,
	Name:        "Generic REST",
	Description: "Any JSON REST API: poller URLs are sent as written relative to base.url.",
	Hub:         connectors.Hub,
	AuthType:    "custom",
	Config: []connectors.ConfigKey{
		{Name: KeyAuthType, Kind: connectors.KindEnum, Default: AuthNone, Values: []string{AuthNone, AuthBasic, AuthBearer, AuthHeader}, Description: "How requests authenticate."},
		{Name: KeyUsername, Kind: connectors.KindString, Description: "Basic auth user name."},
		{Name: KeyPassword, Kind: connectors.KindSecret, Secret: true, Description: "Basic auth password."},
		{Name: KeyBearerToken, Kind: connectors.KindSecret, Secret: true, Description: "Bearer token, for authentication.type bearer."},
		{Name: KeyHeaderName, Kind: connectors.KindString, Description: "Header name, for authentication.type header (e.g. X-API-Key)."},
		{Name: KeyHeaderValue, Kind: connectors.KindSecret, Secret: true, Description: "Header value, for authentication.type header."},
		{Name: KeyWebhookSignatureHeader, Kind: connectors.KindString, Default: DefaultWebhookSignatureHeader, Description: "Webhooks: the header with the HMAC-SHA256 of the push, keyed with event.webhook.signature.key."},
		{Name: KeyWebhookSignatureEncoding, Kind: connectors.KindEnum, Default: EncodingHex, Values: []string{EncodingHex, EncodingBase64}, Description: `Webhooks: how the signature is written, hex or base64; a "sha256=" prefix is accepted.`},
		{Name: KeyWebhookTimestampHeader, Kind: connectors.KindString, Description: `Webhooks: a header with the push's time (epoch seconds or ms, or RFC 3339); when set, the signed message is timestamp + "." + body and pushes older than 5 minutes are refused.`},
		{Name: KeyWebhookRecordsPath, Kind: connectors.KindString, Description: "Webhooks: gjson path of the pushed records (an array or one object); default the whole body."},
		{Name: KeyWebhookRecordPath, Kind: connectors.KindString, Description: "Webhooks: gjson path, in each pushed item, of the record the poller's idField and datesConfiguration read; default the item."},
		{Name: KeyWebhookResourcePath, Kind: connectors.KindString, Description: "Webhooks: gjson path, in each pushed item, of its resource (a poller resource name); default the instance's only poller."},
		{Name: KeyWebhookTypePath, Kind: connectors.KindString, Description: "Webhooks: gjson path, in each pushed item, of created, updated or deleted; default every push is UPDATED."},
	},
	ResourceFields: []connectors.ConfigKey{
		{Name: FieldRecordsPath, Kind: connectors.KindString, Description: "gjson path of the records array in a page; empty when the page is the array."},
		{Name: FieldPagination, Kind: connectors.KindJSON, Description: `{"type": "none|offset|page|cursor|next", ...}: offset uses offsetParam (default offset) and hasMorePath; page uses pageParam (default page), firstPage (default 1) and hasMorePath; cursor uses cursorPath (required), cursorParam (default cursor) and hasMorePath; next uses nextPath (an absolute URL or a path relative to base.url) or else the Link rel="next" header. Every type sends pageSize as limitParam (default limit). Without hasMorePath, offset and page paging go on while pages come back full.`},
	},
	Polling:          true,
	Webhooks:         true,
	Validate:         validate,
	ValidateResource: validateResource,
}

func validate(cfg map[string]string) []connectors.Problem {
	var ps []connectors.Problem
	if cfg[connectors.KeyBaseURL] == "" {
		ps = append(ps, connectors.Problem{Key: connectors.KeyBaseURL, Message: "required for the rest connector"})
	}
	need := func(keys ...string) {
		for _, k := range keys {
			if cfg[k] == "" {
				ps = append(ps, connectors.Problem{Key: k, Message: fmt.Sprintf("required for authentication.type %s", cfg[KeyAuthType])})
			}
		}
	}
	switch cfg[KeyAuthType] {
	case AuthBasic:
		need(KeyUsername)
	case AuthBearer:
		need(KeyBearerToken)
	case AuthHeader:
		need(KeyHeaderName, KeyHeaderValue)
	}
	if vt := cfg[connectors.KeyVendorType]; (vt == "webhook" || vt == "webhooks") && strings.TrimSpace(cfg[connectors.KeyWebhookSecret]) == "" {
		// Unsigned pushes would let anyone who learns the intake URL inject
		// events, so the rest connector takes none.
		ps = append(ps, connectors.Problem{Key: connectors.KeyWebhookSecret, Message: "required for event.vendor.type webhook: every push is verified with it"})
	}
	for _, k := range []string{KeyWebhookSignatureHeader, KeyWebhookTimestampHeader} {
		if v, ok := cfg[k]; ok && v != "" && !isToken(v) {
			ps = append(ps, connectors.Problem{Key: k, Message: fmt.Sprintf("%q is not an HTTP header name", v)})
		}
	}
	return ps
}

// isToken reports whether s is an HTTP header name (RFC 9110 token).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// Pagination is a resource's declared paging scheme.
type Pagination struct {
	Type        string `json:"type"`
	OffsetParam string `json:"offsetParam"`
	// LimitParam is the query parameter that carries the poller's pageSize,
	// for every type but none (default "limit"). No limit is sent when the
	// poller has no pageSize.
	LimitParam string `json:"limitParam"`
	PageParam  string `json:"pageParam"`
	FirstPage  *int   `json:"firstPage"`
	// HasMorePath is the gjson path of a boolean that says whether another
	// page follows (offset, page and cursor types).
	HasMorePath string `json:"hasMorePath"`
	CursorParam string `json:"cursorParam"`
	CursorPath  string `json:"cursorPath"`
	// NextPath is the gjson path of the next page's URL; empty means the
	// Link rel="next" header.
	NextPath string `json:"nextPath"`
}

// ParsePagination decodes and completes a pagination object; an empty
// string means no pagination.
func ParsePagination(raw string) (Pagination, error) {
	p := Pagination{Type: PageNone}
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			return p, fmt.Errorf("must be an object: %v", err)
		}
	}
	switch p.Type {
	case "", PageNone:
		p.Type = PageNone
		return p, nil
	case PageOffset:
		p.OffsetParam = or(p.OffsetParam, "offset")
	case PagePage:
		p.PageParam = or(p.PageParam, "page")
		if p.FirstPage == nil {
			one := 1
			p.FirstPage = &one
		}
		if *p.FirstPage < 0 {
			return p, fmt.Errorf("firstPage must not be negative")
		}
	case PageCursor:
		if p.CursorPath == "" {
			return p, fmt.Errorf("cursorPath is required for type cursor")
		}
		p.CursorParam = or(p.CursorParam, "cursor")
	case PageNext:
	default:
		return p, fmt.Errorf("type %q is not one of none, offset, page, cursor, next", p.Type)
	}
	p.LimitParam = or(p.LimitParam, "limit")
	// The limit is set after the position parameter, so a shared name would
	// silently replace the position and page the first page forever.
	if name, v, ok := p.positionParam(); ok && v == p.LimitParam {
		return p, fmt.Errorf("%s and limitParam must differ", name)
	}
	return p, nil
}

// positionParam names the query parameter that says which page to fetch.
func (p *Pagination) positionParam() (field, param string, ok bool) {
	switch p.Type {
	case PageOffset:
		return "offsetParam", p.OffsetParam, true
	case PagePage:
		return "pageParam", p.PageParam, true
	case PageCursor:
		return "cursorParam", p.CursorParam, true
	}
	return "", "", false // next URLs carry their own position
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func validateResource(_ string, fields map[string]string) []connectors.Problem {
	if _, err := ParsePagination(fields[FieldPagination]); err != nil {
		return []connectors.Problem{{Key: FieldPagination, Message: err.Error()}}
	}
	return nil
}
