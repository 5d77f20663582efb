package connectors

// Configuration keys every connector shares. Their defaults and meaning are
// defined here once.
const (
	KeyBaseURL             = "base.url"
	KeyNotificationEnabled = "event.notification.enabled"
	KeyCallbackURL         = "event.notification.callback.url"
	KeySignatureKey        = "event.notification.signature.key"
	KeyRetryCount          = "event.notification.retry.count"
	KeyRetryInterval       = "event.notification.retry.interval"
	KeyBatchSize           = "event.notification.batch.size"
	KeyVendorType          = "event.vendor.type"
	KeyRefreshInterval     = "event.poller.refresh_interval"
	KeyPollerConfiguration = "event.poller.configuration"
	KeyPollerStart         = "event.poller.start"
	KeyWebhookSecret       = "event.webhook.signature.key"
)

// Defaults of the common keys.
const (
	DefaultRefreshInterval = "15"
	DefaultRetryCount      = "3"
	DefaultRetryInterval   = "5m"
	DefaultBatchSize       = "10"
	DefaultVendorType      = "polling"
)

// Common lists the keys every connector accepts.
var Common = []ConfigKey{
	{Name: KeyBaseURL, Kind: KindURL, Description: "Overrides the connector's default base URL (sandboxes, proxies, simulators)."},
	{Name: KeyNotificationEnabled, Kind: KindBoolean, Default: "false", Description: "Turns event delivery to the callback URL on."},
	{Name: KeyCallbackURL, Kind: KindURL, Description: "Where events are POSTed; http or https. Required when notifications are enabled."},
	{Name: KeySignatureKey, Kind: KindSecret, Secret: true, Description: "HMAC-SHA256 key for Elements-Webhook-Signature; a whsec_ key also adds the Standard Webhooks headers."},
	{Name: KeyRetryCount, Kind: KindNumber, Default: DefaultRetryCount, Description: "Retries after the first delivery attempt (0-100)."},
	{Name: KeyRetryInterval, Kind: KindDuration, Default: DefaultRetryInterval, Description: "Time between delivery attempts (e.g. 30s, 5m); a longer Retry-After is honoured."},
	{Name: KeyBatchSize, Kind: KindNumber, Default: DefaultBatchSize, Description: "Events per notification, all of one instance and resource (1-1000)."},
	{Name: KeyVendorType, Kind: KindEnum, Default: DefaultVendorType, Values: []string{"polling", "webhook", "webhooks"}, Description: "How changes are found: polling, or the vendor's webhooks."},
	{Name: KeyRefreshInterval, Kind: KindString, Default: DefaultRefreshInterval, Description: "Poll schedule: a number of minutes, a duration (\"30s\", \"2m\"), or \"cron:<expression>\". Minimum 1 second."},
	{Name: KeyPollerConfiguration, Kind: KindJSON, Description: "Per resource: url, idField, datesConfiguration, filterByUpdatedDate, filterByCurrentDate, createdCheckTolerance, pageSize, pollDelay, lookback. An object or a JSON string."},
	{Name: KeyPollerStart, Kind: KindString, Description: "RFC 3339 time to start polling from (backfill); default the instance's creation time."},
	{Name: KeyWebhookSecret, Kind: KindSecret, Secret: true, Description: "Key that verifies the vendor's webhook signatures (set automatically where pollwire subscribes itself)."},
}

// Per-resource poller configuration fields shared by every connector.
const (
	FieldURL                   = "url"
	FieldIDField               = "idField"
	FieldDates                 = "datesConfiguration"
	FieldFilterByUpdatedDate   = "filterByUpdatedDate"
	FieldFilterByCurrentDate   = "filterByCurrentDate"
	FieldCreatedCheckTolerance = "createdCheckTolerance"
	FieldPageSize              = "pageSize"
	FieldPollDelay             = "pollDelay"
	FieldLookback              = "lookback"
)

// Default per-resource values.
const (
	DefaultIDField  = "id"
	DefaultLookback = "1m"
)

// ResourceCommon lists the per-resource fields every connector accepts.
var ResourceCommon = []ConfigKey{
	{Name: FieldURL, Kind: KindString, Required: true, Description: "The poller query: /hubs/crm/{resource}?where=<CEQL> or a vendor path relative to base.url, with ${...} date placeholders."},
	{Name: FieldIDField, Kind: KindString, Default: DefaultIDField, Description: "gjson path of the record id."},
	{Name: FieldDates, Kind: KindJSON, Description: "updatedDateField/Format/Timezone and createdDateField/Format/Timezone; formats are Java patterns, milliseconds or seconds."},
	{Name: FieldFilterByUpdatedDate, Kind: KindBoolean, Default: "true", Description: "Only records updated after the window start are changes."},
	{Name: FieldFilterByCurrentDate, Kind: KindBoolean, Default: "false", Description: "Ignore records dated after the poll's start (vendor clock ahead)."},
	{Name: FieldCreatedCheckTolerance, Kind: KindNumber, Default: "0", Description: "Seconds: a record whose created and updated dates differ by at most this is CREATED."},
	{Name: FieldPageSize, Kind: KindNumber, Description: "Records per page requested from the vendor."},
	{Name: FieldPollDelay, Kind: KindNumber, Default: "0", Description: "Seconds subtracted from the window start, for vendors whose writes become visible late."},
	{Name: FieldLookback, Kind: KindDuration, Default: DefaultLookback, Description: "How far each poll re-reads before the watermark; overlap costs reads, never duplicate events."},
}
