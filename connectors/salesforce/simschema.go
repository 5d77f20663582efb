package salesforce

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// fieldType is a simulated field's SOAP type, which decides how its
// literals are written and compared.
type fieldType int

const (
	ftString fieldType = iota
	ftID
	ftNumber
	ftBool
	ftDate
	ftDateTime
)

func (t fieldType) String() string {
	return [...]string{"string", "id", "double", "boolean", "date", "datetime"}[t]
}

type simField struct {
	name     string // canonical API name
	typ      fieldType
	readOnly bool
}

// simSchema is an sObject's fields in the simulator.
type simSchema struct {
	object   string
	prefix   string               // key prefix of its ids
	fields   map[string]*simField // by lower-case name
	order    []string             // canonical names, for reads
	required []string
	defaults map[string]any
	// derive sets computed fields (Name, IsClosed…) after a write.
	deriveFn func(vals map[string]any)
}

func (s *simSchema) add(name string, typ fieldType, readOnly bool) {
	s.fields[strings.ToLower(name)] = &simField{name: name, typ: typ, readOnly: readOnly}
	s.order = append(s.order, name)
}

func (s *simSchema) lookup(name string) (*simField, error) {
	if strings.Contains(name, ".") {
		return nil, &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("Didn't understand relationship '%s' in field path; the simulator has no relationships", name)}
	}
	if f := s.fields[strings.ToLower(name)]; f != nil {
		return f, nil
	}
	return nil, &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.", name, s.object)}
}

func (s *simSchema) derive(vals map[string]any) {
	if s.deriveFn != nil {
		s.deriveFn(vals)
	}
}

// standardSchema returns a fresh schema for a standard object or a custom
// one (X__c); nil for anything else.
func standardSchema(name string) *simSchema {
	str, id, num, boolean, date := ftString, ftID, ftNumber, ftBool, ftDate
	type f struct {
		name string
		typ  fieldType
		ro   bool
	}
	var (
		s      *simSchema
		fields []f
	)
	newSchema := func(object, prefix string, required ...string) *simSchema {
		return &simSchema{object: object, prefix: prefix, fields: map[string]*simField{}, required: required, defaults: map[string]any{}}
	}
	fullName := func(v map[string]any) {
		first, _ := v["FirstName"].(string)
		last, _ := v["LastName"].(string)
		v["Name"] = strings.TrimSpace(first + " " + last)
	}
	switch strings.ToLower(name) {
	case "contact":
		s = newSchema("Contact", "003", "LastName")
		fields = []f{{"FirstName", str, false}, {"LastName", str, false}, {"Name", str, true}, {"Email", str, false}, {"Phone", str, false},
			{"Title", str, false}, {"AccountId", id, false}, {"Birthdate", date, false}, {"LeadSource", str, false}, {"Description", str, false}}
		s.deriveFn = fullName
	case "account":
		s = newSchema("Account", "001", "Name")
		fields = []f{{"Name", str, false}, {"Type", str, false}, {"Industry", str, false}, {"Phone", str, false}, {"Website", str, false},
			{"AnnualRevenue", num, false}, {"NumberOfEmployees", num, false}, {"BillingCity", str, false}, {"Description", str, false}}
	case "opportunity":
		s = newSchema("Opportunity", "006", "Name", "StageName", "CloseDate")
		fields = []f{{"Name", str, false}, {"AccountId", id, false}, {"StageName", str, false}, {"Amount", num, false}, {"CloseDate", date, false},
			{"Probability", num, false}, {"IsClosed", boolean, true}, {"IsWon", boolean, true}, {"Description", str, false}}
		s.deriveFn = func(v map[string]any) {
			stage, _ := v["StageName"].(string)
			v["IsClosed"] = strings.HasPrefix(stage, "Closed")
			v["IsWon"] = stage == "Closed Won"
		}
	case "lead":
		s = newSchema("Lead", "00Q", "LastName", "Company")
		fields = []f{{"FirstName", str, false}, {"LastName", str, false}, {"Name", str, true}, {"Company", str, false}, {"Email", str, false},
			{"Phone", str, false}, {"Status", str, false}, {"IsConverted", boolean, true}, {"LeadSource", str, false}, {"Description", str, false}}
		s.defaults["Status"], s.defaults["IsConverted"] = "Open - Not Contacted", false
		s.deriveFn = fullName
	case "task":
		s = newSchema("Task", "00T")
		fields = []f{{"Subject", str, false}, {"Status", str, false}, {"Priority", str, false}, {"ActivityDate", date, false},
			{"WhoId", id, false}, {"WhatId", id, false}, {"IsClosed", boolean, true}, {"Description", str, false}}
		s.defaults["Status"], s.defaults["Priority"] = "Not Started", "Normal"
		s.deriveFn = func(v map[string]any) { v["IsClosed"] = v["Status"] == "Completed" }
	default:
		if !strings.HasSuffix(strings.ToLower(name), "__c") || !fieldName.MatchString(name) || strings.Contains(name, ".") {
			return nil
		}
		s = newSchema(name, "a00")
		fields = []f{{"Name", str, false}}
	}
	s.add("Id", id, true)
	s.add("IsDeleted", boolean, true)
	s.add("OwnerId", id, false)
	s.add("CreatedById", id, true)
	s.add("LastModifiedById", id, true)
	for _, x := range fields {
		s.add(x.name, x.typ, x.ro)
	}
	s.add("CreatedDate", ftDateTime, true)
	s.add("LastModifiedDate", ftDateTime, true)
	s.add("SystemModstamp", ftDateTime, true)
	return s
}

// convert types written fields as the API would: JSON numbers for number
// fields, YYYY-MM-DD for dates, ISO 8601 for date-times (time.Time from
// Go). An unknown field ending in __c is added to the object, typed by
// its value.
func (s *simSchema) convert(fields map[string]any, creating bool) (map[string]any, error) {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		fd := s.fields[strings.ToLower(k)]
		if fd == nil {
			if !strings.HasSuffix(strings.ToLower(k), "__c") || !fieldName.MatchString(k) || strings.Contains(k, ".") {
				return nil, &soqlError{code: "INVALID_FIELD", msg: fmt.Sprintf("No such column '%s' on sobject of type %s", k, s.object)}
			}
			s.add(k, inferType(v), false)
			fd = s.fields[strings.ToLower(k)]
		}
		if fd.readOnly {
			verb := "update"
			if creating {
				verb = "create"
			}
			return nil, &soqlError{code: "INVALID_FIELD_FOR_INSERT_UPDATE", msg: fmt.Sprintf("Unable to %s fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", verb, fd.name)}
		}
		cv, err := convertValue(fd, v)
		if err != nil {
			return nil, err
		}
		out[fd.name] = cv
	}
	return out, nil
}

func inferType(v any) fieldType {
	switch v.(type) {
	case bool:
		return ftBool
	case float64, float32, int, int64, int32, json.Number:
		return ftNumber
	case time.Time:
		return ftDateTime
	}
	return ftString
}

func convertValue(fd *simField, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func() error {
		return &soqlError{code: "JSON_PARSER_ERROR", msg: fmt.Sprintf("Cannot deserialize instance of %s from %T value for field %s", fd.typ, v, fd.name)}
	}
	switch fd.typ {
	case ftString, ftID:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case ftNumber:
		var f float64
		switch n := v.(type) {
		case float64:
			f = n
		case float32:
			f = float64(n)
		case int:
			f = float64(n)
		case int64:
			f = float64(n)
		case int32:
			f = float64(n)
		case json.Number:
			x, err := strconv.ParseFloat(string(n), 64)
			if err != nil {
				return nil, bad()
			}
			f = x
		default:
			return nil, bad()
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, bad()
		}
		return f, nil
	case ftBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case ftDate:
		switch d := v.(type) {
		case time.Time:
			return d.UTC().Format("2006-01-02"), nil
		case string:
			if t, err := time.Parse("2006-01-02", d); err == nil {
				return t.Format("2006-01-02"), nil
			}
		}
	case ftDateTime:
		switch d := v.(type) {
		case time.Time:
			return d.UTC().Truncate(time.Millisecond), nil
		case string:
			if t, dateOnly, ok := parseDateTime(d); ok && !dateOnly {
				return t.Truncate(time.Millisecond), nil
			}
		}
	}
	return nil, bad()
}
