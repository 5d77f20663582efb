package rest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/connectors/internal/vendorio"
	"github.com/pollwire/pollwire/connectors/source"
	"github.com/pollwire/pollwire/instances"
)

// MaxWebhookSkew is how far ahead of pollwire's clock a push's timestamp
// may be: a forged-ahead timestamp would otherwise keep a captured push
// replayable for longer than source.MaxWebhookAge.
const MaxWebhookSkew = 5 * time.Minute

// Change types, as the engine names them.
const (
	changeCreated = "CREATED"
	changeUpdated = "UPDATED"
	changeDeleted = "DELETED"
)

var _ source.Webhook = (*Source)(nil)

// hookConfig is an instance's webhook configuration, read once per push.
type hookConfig struct {
	secret, header, encoding, tsHeader    string
	recordsPath, recordPath, resourcePath string
	typePath                              string
}

func webhookConfig(inst *instances.Instance) hookConfig {
	value := func(k string) string {
		if inst == nil {
			return ""
		}
		v, _ := inst.Value(k)
		return strings.TrimSpace(v)
	}
	return hookConfig{
		secret:       value(connectors.KeyWebhookSecret),
		header:       or(value(KeyWebhookSignatureHeader), DefaultWebhookSignatureHeader),
		encoding:     or(value(KeyWebhookSignatureEncoding), EncodingHex),
		tsHeader:     value(KeyWebhookTimestampHeader),
		recordsPath:  value(KeyWebhookRecordsPath),
		recordPath:   value(KeyWebhookRecordPath),
		resourcePath: value(KeyWebhookResourcePath),
		typePath:     value(KeyWebhookTypePath),
	}
}

// Verify checks a push's HMAC-SHA256, keyed with event.webhook.signature.key,
// in the header webhook.signature.header (default X-Signature), written as
// webhook.signature.encoding says (hex or base64, with or without a
// "sha256=" prefix). The signed message is the raw body or, when
// webhook.timestamp.header is set, timestamp + "." + body, and then a push
// more than source.MaxWebhookAge old (or MaxWebhookSkew ahead) is refused.
// Errors wrap source.ErrSignature and say which check failed.
func (s *Source) Verify(req *source.WebhookRequest) error {
	if req == nil {
		return refuse("no request")
	}
	cfg := webhookConfig(req.Instance)
	if cfg.secret == "" {
		return refuse("the instance has no %s to verify pushes with", connectors.KeyWebhookSecret)
	}
	sig := strings.TrimSpace(req.Header.Get(cfg.header))
	if sig == "" {
		return refuse("the %s header is missing", cfg.header)
	}
	msg := req.Body
	if cfg.tsHeader != "" {
		ts := strings.TrimSpace(req.Header.Get(cfg.tsHeader))
		if ts == "" {
			return refuse("the %s header is missing", cfg.tsHeader)
		}
		at, ok := parseTimestamp(ts)
		if !ok {
			return refuse("%s %q is not epoch seconds, epoch milliseconds or an RFC 3339 time", cfg.tsHeader, vendorio.Clip(ts, 40))
		}
		now := req.Now
		if now.IsZero() {
			now = time.Now()
		}
		switch age := now.Sub(at); {
		case age > source.MaxWebhookAge:
			return refuse("the push is %s old (%s %s); at most %s is accepted, so a replay is refused", age.Round(time.Second), cfg.tsHeader, ts, source.MaxWebhookAge)
		case -age > MaxWebhookSkew:
			return refuse("%s %s is %s ahead of pollwire's clock; at most %s is accepted", cfg.tsHeader, ts, (-age).Round(time.Second), MaxWebhookSkew)
		}
		msg = make([]byte, 0, len(ts)+1+len(req.Body))
		msg = append(append(append(msg, ts...), '.'), req.Body...)
	}
	got, err := decodeSignature(sig, cfg.encoding)
	if err != nil {
		return refuse("%s: %v", cfg.header, err)
	}
	if len(got) != sha256.Size {
		return refuse("%s holds %d bytes, not an HMAC-SHA256", cfg.header, len(got))
	}
	mac := hmac.New(sha256.New, []byte(cfg.secret))
	mac.Write(msg)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return refuse("%s does not match the body (a wrong %s, or a body changed on the way)", cfg.header, connectors.KeyWebhookSecret)
	}
	return nil
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("rest: %w: %s", source.ErrSignature, fmt.Sprintf(format, args...))
}

// decodeSignature reads a signature written in encoding, without its
// optional "sha256=" prefix. Base64 may be standard or URL-safe, padded or
// not: vendors differ, and all decode to the same bytes.
func decodeSignature(sig, encoding string) ([]byte, error) {
	if len(sig) >= 7 && strings.EqualFold(sig[:7], "sha256=") {
		sig = sig[7:]
	}
	switch encoding {
	case EncodingBase64:
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(sig); err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("not base64")
	case EncodingHex:
		b, err := hex.DecodeString(sig)
		if err != nil {
			return nil, fmt.Errorf("not hex")
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s %q is not hex or base64", KeyWebhookSignatureEncoding, encoding)
}

// parseTimestamp reads a push time: epoch seconds or milliseconds (told
// apart by size: 10^11 seconds is the year 5138, 10^11 ms is 1973), or
// RFC 3339.
func parseTimestamp(v string) (time.Time, bool) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case n <= 0:
			return time.Time{}, false
		case n >= 1e11:
			return time.UnixMilli(n), true
		}
		return time.Unix(n, 0), true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// Changes reads a verified push: the items at webhook.records.path (an
// array, or one object; default the whole body), each with its resource at
// webhook.resource.path (default the instance's only poller), its type at
// webhook.type.path (created, updated or deleted, also as "contact.created";
// default UPDATED) and its record at webhook.record.path (default the
// item). The record's id and date are read as the resource's poller reads
// them (idField, default id; datesConfiguration's updatedDateField), so a
// change both pushed and polled has one (ObjectID, Date) and is delivered
// once. Without an updatedDateField — or for a deletion whose record has no
// date — Date is zero: the engine stamps it on arrival and cannot dedupe
// it. Raw is the record. Any item that cannot be read fails the push, so
// the vendor hears of it rather than pollwire dropping part of it.
func (s *Source) Changes(req *source.WebhookRequest) ([]source.Change, error) {
	if req == nil {
		return nil, fmt.Errorf("rest: no webhook request")
	}
	cfg := webhookConfig(req.Instance)
	body := bytes.TrimPrefix(req.Body, utf8BOM)
	if !vendorio.ValidJSON(body, vendorio.MaxDepth) {
		return nil, fmt.Errorf("the push is not JSON: %q", vendorio.Clip(vendorio.OneLine(string(body)), 60))
	}
	items := gjson.ParseBytes(body)
	if cfg.recordsPath != "" {
		items = items.Get(cfg.recordsPath)
		switch {
		case !items.Exists():
			return nil, fmt.Errorf("%s %q is not in the push", KeyWebhookRecordsPath, cfg.recordsPath)
		case items.Type == gjson.Null:
			return nil, nil // some vendors send {"data": null} for nothing
		}
	}
	var list []gjson.Result
	switch {
	case items.IsArray():
		list = items.Array()
	case items.IsObject():
		list = []gjson.Result{items}
	default:
		return nil, fmt.Errorf("the pushed records are %s, not an array or an object; set %s", kind(items), KeyWebhookRecordsPath)
	}
	out := make([]source.Change, 0, len(list))
	for i, it := range list {
		c, err := readPushed(req.Settings, &cfg, it)
		if err != nil {
			return nil, fmt.Errorf("pushed record %d: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// readPushed reads one pushed item.
func readPushed(s *instances.Settings, cfg *hookConfig, it gjson.Result) (source.Change, error) {
	var c source.Change
	if !it.IsObject() {
		return c, fmt.Errorf("%s, not an object", kind(it))
	}
	switch {
	case cfg.resourcePath != "":
		r := it.Get(cfg.resourcePath)
		if r.Type != gjson.String || strings.TrimSpace(r.Str) == "" {
			return c, fmt.Errorf("no resource name at %s %q", KeyWebhookResourcePath, cfg.resourcePath)
		}
		c.Resource = strings.TrimSpace(r.Str)
	case s != nil && len(s.Pollers) == 1:
		c.Resource = s.Pollers[0].Resource
	default:
		return c, fmt.Errorf("set %s: the instance does not have exactly one poller to take the resource from", KeyWebhookResourcePath)
	}
	c.Type = changeUpdated
	if cfg.typePath != "" {
		if v := it.Get(cfg.typePath); v.Exists() && v.Type != gjson.Null {
			t, ok := changeType(v.String())
			if !ok {
				return c, fmt.Errorf("%s %q is %q, not created, updated or deleted", KeyWebhookTypePath, cfg.typePath, vendorio.Clip(v.String(), 40))
			}
			c.Type = t
		}
	}
	rec := it
	if cfg.recordPath != "" {
		if rec = it.Get(cfg.recordPath); !rec.IsObject() {
			return c, fmt.Errorf("%s %q is %s, not a record", KeyWebhookRecordPath, cfg.recordPath, kind(rec))
		}
	}
	var p *instances.Poller
	if s != nil {
		p, _ = s.Poller(c.Resource)
	}
	idField := connectors.DefaultIDField
	if p != nil {
		idField = p.IDField
	}
	// Read as the engine reads a polled record, so both give one id.
	idv := rec.Get(idField)
	c.ObjectID = idv.String()
	if !idv.Exists() || c.ObjectID == "" || idv.IsObject() || idv.IsArray() {
		return c, fmt.Errorf("%s: no id at %q", c.Resource, idField)
	}
	c.ObjectID = strings.Clone(c.ObjectID)
	if p != nil && p.Updated.Field != "" {
		v := rec.Get(p.Updated.Field)
		switch {
		case v.Exists() && v.Type != gjson.Null && v.String() != "":
			d, err := p.Updated.Parse(v.String())
			if err != nil {
				return c, fmt.Errorf("%s %s: %s: %v", c.Resource, c.ObjectID, p.Updated.Field, err)
			}
			c.Date = d
		case c.Type != changeDeleted:
			return c, fmt.Errorf("%s %s has no %s", c.Resource, c.ObjectID, p.Updated.Field)
		}
	}
	c.Raw = []byte(rec.Raw)
	return c, nil
}

// changeType reads a pushed change type: created, updated or deleted and
// their usual synonyms, alone or as the last part of an event name
// ("contact.created", "contact_deleted").
func changeType(v string) (string, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	if i := strings.LastIndexAny(v, "._:/"); i >= 0 {
		v = v[i+1:]
	}
	switch v {
	case "created", "create", "creation", "new", "added", "add", "inserted", "insert":
		return changeCreated, true
	case "updated", "update", "changed", "change", "modified", "edited", "upserted", "upsert", "restored":
		return changeUpdated, true
	case "deleted", "delete", "deletion", "removed", "remove", "destroyed", "archived":
		return changeDeleted, true
	}
	return "", false
}
