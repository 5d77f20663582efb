package instances

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pollwire/pollwire/connectors"
	"github.com/pollwire/pollwire/instances/datefmt"
	"github.com/pollwire/pollwire/instances/placeholder"
)

// Settings are an instance's configuration compiled into typed values: what
// the engine schedules, polls and delivers by. They are derived from the
// stored configuration, never stored themselves.
type Settings struct {
	BaseURL              string
	NotificationsEnabled bool
	CallbackURL          string
	VendorType           string // "polling" or "webhook"
	Schedule             Schedule
	// Start is where the first watermark lies when set (backfill); zero
	// means the instance's creation time.
	Start         time.Time
	RetryCount    int
	RetryInterval time.Duration
	BatchSize     int
	Pollers       []Poller // sorted by resource
}

// Webhooks reports whether the vendor pushes changes (event.vendor.type webhook).
func (s *Settings) Webhooks() bool { return s.VendorType == "webhook" }

// Poller returns the poller of resource.
func (s *Settings) Poller(resource string) (*Poller, bool) {
	for i := range s.Pollers {
		if s.Pollers[i].Resource == resource {
			return &s.Pollers[i], true
		}
	}
	return nil, false
}

// Schedule is when a poller runs: every fixed interval (with a per-poller
// offset the scheduler derives), or on a cron schedule.
type Schedule struct {
	Every time.Duration
	Cron  cron.Schedule // set for "cron:" schedules; Every is then zero
	Text  string        // as configured
}

// DateField names a record's date and how to read it. A nil Layout reads
// RFC 3339.
type DateField struct {
	Field    string
	Layout   *datefmt.Layout
	Location *time.Location
}

// Parse reads a date value as the field's format describes.
func (d DateField) Parse(s string) (time.Time, error) {
	if d.Layout == nil {
		return time.Parse(time.RFC3339Nano, s)
	}
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	return d.Layout.Parse(s, loc)
}

// Poller is one resource's compiled poller configuration.
type Poller struct {
	Resource string
	URL      *placeholder.Template
	// HubResource is the resource of a `/hubs/crm/{resource}` URL, which the
	// connector translates into the vendor's own query; empty for URLs sent
	// as written.
	HubResource           string
	IDField               string
	Updated               DateField
	Created               DateField
	FilterByUpdatedDate   bool
	FilterByCurrentDate   bool
	CreatedCheckTolerance time.Duration
	PageSize              int
	PollDelay             time.Duration
	Lookback              time.Duration
	// Extra holds the connector's own per-resource fields as canonical strings.
	Extra map[string]string
}

// Limits of configurable values.
const (
	MinInterval     = time.Second
	MaxRetryCount   = 100
	MaxBatchSize    = 1000
	MaxPageSize     = 10000
	MaxLookback     = 24 * time.Hour
	MaxNameLength   = 255
	MaxResourceName = 64
	maxTags         = 50
)

var resourceName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// cronParser accepts standard 5-field expressions, an optional leading
// seconds field and descriptors such as @hourly.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Compile checks a connector configuration and compiles it into Settings.
// cfg holds every configuration value (plain and secret) as canonical strings.
func Compile(spec *connectors.Spec, cfg map[string]string) (*Settings, error) {
	s, ps := compile(spec, cfg)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Settings compiles an already stored instance's configuration.
func (i *Instance) Settings(cat connectors.Catalog) (*Settings, error) {
	spec, ok := cat.Lookup(i.ConnectorKey)
	if !ok {
		return nil, fmt.Errorf("instance %d: unknown connector %q", i.ID, i.ConnectorKey)
	}
	s, err := Compile(spec, i.AllConfig())
	if err != nil {
		return nil, fmt.Errorf("instance %d: %w", i.ID, err)
	}
	return s, nil
}

func cfgPath(key string, rest ...string) string {
	return Path(append([]string{"configuration", key}, rest...)...)
}

func compile(spec *connectors.Spec, cfg map[string]string) (*Settings, problems) {
	var ps problems
	s := &Settings{}

	for _, k := range sortedKeys(cfg) {
		key, known := spec.ConfigKey(k)
		if !known {
			if strings.HasPrefix(k, "event.") {
				ps.add(cfgPath(k), "unknown configuration key")
			}
			continue // other keys are kept for SAP compatibility (e.g. pagination.max)
		}
		checkKind(&ps, key, cfg[k])
	}
	for _, key := range spec.AllKeys() {
		if key.Required && strings.TrimSpace(cfg[key.Name]) == "" {
			ps.add(cfgPath(key.Name), "required")
		}
	}
	if spec.Validate != nil {
		for _, p := range spec.Validate(cfg) {
			if p.Key == "" {
				ps.add("configuration", p.Message)
			} else {
				ps.add(cfgPath(p.Key), p.Message)
			}
		}
	}

	s.BaseURL = strings.TrimRight(valueOr(cfg, connectors.KeyBaseURL, spec.DefaultBaseURL), "/")
	s.NotificationsEnabled = parseBool(cfg[connectors.KeyNotificationEnabled])
	s.CallbackURL = cfg[connectors.KeyCallbackURL]
	if s.NotificationsEnabled && s.CallbackURL == "" {
		ps.add(cfgPath(connectors.KeyCallbackURL), "required when event.notification.enabled is true")
	}
	s.VendorType = valueOr(cfg, connectors.KeyVendorType, connectors.DefaultVendorType)
	if s.VendorType == "webhooks" {
		s.VendorType = "webhook"
	}
	if s.VendorType == "webhook" && !spec.Webhooks {
		ps.add(cfgPath(connectors.KeyVendorType), fmt.Sprintf("the %s connector does not support webhooks; use polling", spec.Key))
	}

	sched, msg := ParseSchedule(valueOr(cfg, connectors.KeyRefreshInterval, connectors.DefaultRefreshInterval))
	if msg != "" {
		ps.add(cfgPath(connectors.KeyRefreshInterval), msg)
	}
	s.Schedule = sched

	if v := cfg[connectors.KeyPollerStart]; v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			ps.add(cfgPath(connectors.KeyPollerStart), "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		s.Start = t
	}

	s.RetryCount = intValue(&ps, cfg, connectors.KeyRetryCount, connectors.DefaultRetryCount, 0, MaxRetryCount)
	s.BatchSize = intValue(&ps, cfg, connectors.KeyBatchSize, connectors.DefaultBatchSize, 1, MaxBatchSize)
	ri, msg := parseDuration(valueOr(cfg, connectors.KeyRetryInterval, connectors.DefaultRetryInterval), time.Minute)
	if msg == "" && ri < MinInterval {
		msg = "must be at least 1s"
	}
	if msg != "" {
		ps.add(cfgPath(connectors.KeyRetryInterval), msg)
	}
	s.RetryInterval = ri

	pollers, pps := compilePollers(spec, cfg[connectors.KeyPollerConfiguration])
	ps = append(ps, pps...)
	s.Pollers = pollers
	if s.VendorType == "polling" && s.NotificationsEnabled && len(pollers) == 0 && len(pps) == 0 {
		ps.add(cfgPath(connectors.KeyPollerConfiguration), "required when event.vendor.type is polling and notifications are enabled")
	}
	return s, ps
}

func checkKind(ps *problems, key connectors.ConfigKey, v string) {
	switch key.Kind {
	case connectors.KindBoolean:
		if _, err := strconv.ParseBool(strings.ToLower(v)); err != nil {
			ps.add(cfgPath(key.Name), "must be true or false")
		}
	case connectors.KindNumber:
		if _, err := strconv.Atoi(v); err != nil {
			ps.add(cfgPath(key.Name), "must be a whole number")
		}
	case connectors.KindURL:
		if v != "" {
			if msg := checkHTTPURL(v); msg != "" {
				ps.add(cfgPath(key.Name), msg)
			}
		}
	case connectors.KindEnum:
		if v != "" && !contains(key.Values, v) {
			ps.add(cfgPath(key.Name), fmt.Sprintf("must be one of %s", strings.Join(key.Values, ", ")))
		}
	}
}

func checkHTTPURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "must be a valid URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "must be an http or https URL"
	}
	if u.Host == "" || u.Hostname() == "" {
		return "must be an absolute URL with a host"
	}
	if u.User != nil {
		return "must not carry credentials in the URL"
	}
	return ""
}

// ParseSchedule reads event.poller.refresh_interval: a number is minutes, a
// string with a unit is a duration, "cron:" starts a cron expression. The
// message is empty when the value is valid.
func ParseSchedule(v string) (Schedule, string) {
	v = strings.TrimSpace(v)
	sched := Schedule{Text: v}
	if expr, ok := strings.CutPrefix(v, "cron:"); ok {
		cs, err := parseCron(strings.TrimSpace(expr))
		if err != nil {
			return sched, fmt.Sprintf("invalid cron expression: %v", err)
		}
		// Next searches five years ahead and gives up with the zero time:
		// a schedule such as February 30th would never poll.
		if cs.Next(time.Now()).IsZero() {
			return sched, "cron expression never fires"
		}
		sched.Cron = cs
		return sched, ""
	}
	d, msg := parseDuration(v, time.Minute)
	if msg != "" {
		return sched, msg + `, or "cron:<expression>"`
	}
	if d < MinInterval {
		return sched, "must be at least 1 second"
	}
	sched.Every = d
	return sched, ""
}

// parseCron parses a cron expression. robfig/cron panics on some malformed
// input (a TZ= prefix not followed by a space), and a request body must
// never crash the admin API.
func parseCron(expr string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, errors.New("a TZ= or CRON_TZ= prefix must be followed by a space and the schedule")
		}
	}()
	return cronParser.Parse(expr)
}

// parseDuration reads a bare number in unit, or a Go duration ("30s", "2m").
func parseDuration(v string, unit time.Duration) (time.Duration, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, "must not be empty"
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > float64(math.MaxInt64/int64(unit)) {
			return 0, "must be a positive number"
		}
		return time.Duration(f * float64(unit)), ""
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Sprintf("must be a number of %s or a duration such as \"30s\" or \"2m\"", unitName(unit))
	}
	if d < 0 {
		return 0, "must not be negative"
	}
	return d, ""
}

func unitName(d time.Duration) string {
	if d == time.Minute {
		return "minutes"
	}
	return "seconds"
}

func intValue(ps *problems, cfg map[string]string, key, def string, lo, hi int) int {
	v := valueOr(cfg, key, def)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		ps.add(cfgPath(key), fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return 0
	}
	return n
}

func valueOr(cfg map[string]string, key, def string) string {
	if v, ok := cfg[key]; ok && strings.TrimSpace(v) != "" {
		return v
	}
	return def
}

func parseBool(v string) bool {
	b, _ := strconv.ParseBool(strings.ToLower(strings.TrimSpace(v)))
	return b
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// compilePollers reads event.poller.configuration, an object or a JSON string.
func compilePollers(spec *connectors.Spec, raw string) ([]Poller, problems) {
	var ps problems
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	base := cfgPath(connectors.KeyPollerConfiguration)
	var byResource map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &byResource); err != nil || byResource == nil {
		ps.add(base, "must be an object (or a JSON string holding one) of resource name to poller settings")
		return nil, ps
	}
	var out []Poller
	for _, name := range sortedKeys(byResource) {
		p, pps := compilePoller(spec, name, byResource[name])
		ps = append(ps, pps...)
		if len(pps) == 0 {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out, ps
}

var datesFields = map[string]bool{
	"updatedDateField": true, "updatedDateFormat": true, "updatedDateTimezone": true,
	"createdDateField": true, "createdDateFormat": true, "createdDateTimezone": true,
}

func compilePoller(spec *connectors.Spec, name string, raw json.RawMessage) (Poller, problems) {
	var ps problems
	path := func(rest ...string) string {
		return cfgPath(connectors.KeyPollerConfiguration, append([]string{name}, rest...)...)
	}
	p := Poller{Resource: name, IDField: connectors.DefaultIDField, FilterByUpdatedDate: true, Lookback: time.Minute}
	if !resourceName.MatchString(name) || len(name) > MaxResourceName {
		ps.add(path(), "resource names are 1-64 letters, digits, '_', '-' or '.'")
		return p, ps
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		ps.add(path(), "must be an object with at least a url")
		return p, ps
	}
	extra := map[string]string{}
	for _, f := range sortedKeys(fields) {
		v := fields[f]
		switch f {
		case connectors.FieldURL:
			var u string
			if json.Unmarshal(v, &u) != nil || strings.TrimSpace(u) == "" {
				ps.add(path(f), "must be a non-empty string")
				continue
			}
			compileURL(spec, &p, u, path(f), &ps)
		case connectors.FieldIDField:
			var id string
			if json.Unmarshal(v, &id) != nil || strings.TrimSpace(id) == "" {
				ps.add(path(f), "must be a non-empty gjson path such as \"id\"")
				continue
			}
			p.IDField = id
		case connectors.FieldDates:
			compileDates(&p, v, path(f), &ps)
		case connectors.FieldFilterByUpdatedDate:
			p.FilterByUpdatedDate = jsonBool(v, path(f), &ps)
		case connectors.FieldFilterByCurrentDate:
			p.FilterByCurrentDate = jsonBool(v, path(f), &ps)
		case connectors.FieldCreatedCheckTolerance:
			p.CreatedCheckTolerance = jsonSeconds(v, path(f), &ps)
		case connectors.FieldPollDelay:
			p.PollDelay = jsonSeconds(v, path(f), &ps)
		case connectors.FieldPageSize:
			n := jsonNumber(v, path(f), &ps)
			if n != nil && (*n != math.Trunc(*n) || *n < 1 || *n > MaxPageSize) {
				ps.add(path(f), fmt.Sprintf("must be a whole number from 1 to %d", MaxPageSize))
			} else if n != nil {
				p.PageSize = int(*n)
			}
		case connectors.FieldLookback:
			s, isNum := jsonString(v)
			if !isNum && s == "" {
				ps.add(path(f), `must be a duration such as "1m" or a number of seconds`)
				continue
			}
			d, msg := parseDuration(s, time.Second)
			if msg == "" && d > MaxLookback {
				msg = "must be at most 24h"
			}
			if msg != "" {
				ps.add(path(f), msg)
				continue
			}
			p.Lookback = d
		default:
			if isResourceField(spec, f) {
				s, _, msg := canonical(v)
				if msg != "" {
					ps.add(path(f), msg)
					continue
				}
				extra[f] = s
				continue
			}
			ps.add(path(f), "unknown poller field; known fields are "+knownResourceFields(spec))
		}
	}
	if _, ok := fields[connectors.FieldURL]; !ok {
		ps.add(path(connectors.FieldURL), "required")
	}
	if p.HubResource != "" {
		applyHubDefaults(&p, fields, spec.HubDefaults, &ps)
	}
	if p.HubResource == "" && p.FilterByUpdatedDate && p.Updated.Field == "" && len(ps) == 0 {
		ps.add(path(connectors.FieldDates, "updatedDateField"), "required when filterByUpdatedDate is true and the url is not a /hubs/crm resource")
	}
	if spec.ValidateResource != nil {
		for _, pr := range spec.ValidateResource(name, extra) {
			ps.add(path(pr.Key), pr.Message)
		}
	}
	if len(extra) > 0 {
		p.Extra = extra
	}
	return p, ps
}

func compileURL(spec *connectors.Spec, p *Poller, u, path string, ps *problems) {
	tmpl, err := placeholder.Parse(u)
	if err != nil {
		ps.add(path, err.Error())
		return
	}
	p.URL = tmpl
	if !strings.HasPrefix(u, "/") {
		ps.add(path, "must be a path starting with / (it is sent relative to base.url)")
		return
	}
	rest, ok := strings.CutPrefix(u, "/hubs/")
	if !ok {
		return
	}
	hub, res, _ := strings.Cut(rest, "/")
	if i := strings.IndexAny(res, "?/"); i >= 0 {
		res = res[:i]
	}
	switch {
	case hub != connectors.Hub:
		ps.add(path, fmt.Sprintf("unknown hub %q; pollwire connectors are in the crm hub (/hubs/crm/{resource})", hub))
	case len(spec.Resources) == 0:
		ps.add(path, fmt.Sprintf("the %s connector has no hub resources; write the vendor's own path", spec.Key))
	case !spec.HasResource(res):
		ps.add(path, fmt.Sprintf("the %s connector has no hub resource %q; it has %s", spec.Key, res, strings.Join(spec.Resources, ", ")))
	default:
		p.HubResource = res
		if spec.ValidateQuery != nil {
			// A sample expansion: the query must translate whatever the time.
			exp := tmpl.Expand(time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), time.UTC)
			where := ""
			if _, q, ok := strings.Cut(exp, "?"); ok {
				if vals, err := url.ParseQuery(q); err == nil {
					where = vals.Get("where")
				} else {
					ps.add(path, "the query string does not parse: "+err.Error())
					return
				}
			}
			if err := spec.ValidateQuery(res, where); err != nil {
				ps.add(path, err.Error())
			}
		}
	}
}

func compileDates(p *Poller, raw json.RawMessage, path string, ps *problems) {
	var dc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &dc); err != nil || dc == nil {
		ps.add(path, "must be an object")
		return
	}
	str := map[string]string{}
	for _, k := range sortedKeys(dc) {
		if !datesFields[k] {
			ps.add(path+"."+k, "unknown field; known fields are updatedDateField, updatedDateFormat, updatedDateTimezone, createdDateField, createdDateFormat, createdDateTimezone")
			continue
		}
		var s string
		if json.Unmarshal(dc[k], &s) != nil {
			ps.add(path+"."+k, "must be a string")
			continue
		}
		str[k] = s
	}
	p.Updated = compileDateField(str, "updated", path, ps)
	p.Created = compileDateField(str, "created", path, ps)
}

func compileDateField(str map[string]string, which, path string, ps *problems) DateField {
	var d DateField
	d.Field = str[which+"DateField"]
	if f := str[which+"DateFormat"]; f != "" {
		l, err := datefmt.Compile(f)
		if err != nil {
			ps.add(path+"."+which+"DateFormat", err.Error())
		}
		d.Layout = l
	}
	if z := str[which+"DateTimezone"]; z != "" {
		loc, err := time.LoadLocation(z)
		if err != nil {
			ps.add(path+"."+which+"DateTimezone", fmt.Sprintf("unknown time zone %q", z))
		}
		d.Location = loc
	}
	return d
}

func jsonString(v json.RawMessage) (s string, isNum bool) {
	if err := json.Unmarshal(v, &s); err == nil {
		return s, false
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		return n.String(), true
	}
	return "", false
}

func jsonBool(v json.RawMessage, path string, ps *problems) bool {
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if b, err := strconv.ParseBool(strings.ToLower(s)); err == nil {
			return b
		}
	}
	ps.add(path, "must be true or false")
	return false
}

func jsonNumber(v json.RawMessage, path string, ps *problems) *float64 {
	s, _ := jsonString(v)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		ps.add(path, "must be a number")
		return nil
	}
	return &f
}

func jsonSeconds(v json.RawMessage, path string, ps *problems) time.Duration {
	f := jsonNumber(v, path, ps)
	if f == nil {
		return 0
	}
	if *f < 0 || *f > MaxLookback.Seconds() {
		ps.add(path, "must be a number of seconds from 0 to 86400")
		return 0
	}
	return time.Duration(*f * float64(time.Second))
}

func isResourceField(spec *connectors.Spec, f string) bool {
	for _, k := range spec.ResourceFields {
		if k.Name == f {
			return true
		}
	}
	return false
}

func knownResourceFields(spec *connectors.Spec) string {
	var names []string
	for _, k := range connectors.ResourceCommon {
		names = append(names, k.Name)
	}
	for _, k := range spec.ResourceFields {
		names = append(names, k.Name)
	}
	return strings.Join(names, ", ")
}

// applyHubDefaults fills what a hub poller left unsaid with the connector's
// record shape, so `{"url": "/hubs/crm/contacts?where=…"}` is enough.
func applyHubDefaults(p *Poller, fields map[string]json.RawMessage, d connectors.HubDefaults, ps *problems) {
	if _, set := fields[connectors.FieldIDField]; !set && d.IDField != "" {
		p.IDField = d.IDField
	}
	fill := func(df *DateField, field, format string) {
		if df.Field != "" || field == "" {
			return
		}
		df.Field = field
		if format != "" {
			l, err := datefmt.Compile(format)
			if err != nil {
				ps.add("connector", "hub date format "+format+": "+err.Error())
				return
			}
			df.Layout = l
		}
	}
	fill(&p.Updated, d.UpdatedField, d.UpdatedFormat)
	fill(&p.Created, d.CreatedField, d.CreatedFormat)
}
