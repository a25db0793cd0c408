package domain

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed rules.yaml
var defaultRulesYAML []byte

// Rules map raw response codes and error.type values to causes. They are data:
// the contract's table ships embedded, operators extend it with a file.
type Rules struct {
	// Revision increases whenever the rules change; it is part of a stored
	// transaction's version so reclassified rows replace older ones.
	Revision      uint32
	approval      map[string]bool
	responseCodes map[string]Cause
	errorTypes    map[string]Cause
	classes       map[Cause]Class
	descriptions  map[Cause]string
}

type rulesFile struct {
	Revision      uint32               `yaml:"revision"`
	ApprovalCodes []string             `yaml:"approval_codes"`
	Causes        map[string]causeFile `yaml:"causes"`
}

type causeFile struct {
	Class         string   `yaml:"class"`
	Description   string   `yaml:"description"`
	ResponseCodes []string `yaml:"response_codes"`
	ErrorTypes    []string `yaml:"error_types"`
}

var (
	codePattern      = regexp.MustCompile(`^[0-9A-Z]{2}$`)
	errorTypePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.\-]{0,63}$`)
)

var defaultRules = mustParseDefault()

func mustParseDefault() *Rules {
	r, err := parseRules(defaultRulesYAML, nil)
	if err != nil {
		panic(fmt.Sprintf("domain: embedded rules.yaml is invalid: %v", err))
	}
	return r
}

// DefaultRules returns the contract's rules (shared, read-only).
func DefaultRules() *Rules { return defaultRules }

// LoadRules reads an operator's rules file and merges it over the contract's
// defaults. An empty path returns the defaults.
func LoadRules(path string) (*Rules, error) {
	if path == "" {
		return defaultRules, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules file: %w", err)
	}
	r, err := ParseRules(data)
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	return r, nil
}

// ParseRules parses rules YAML and merges it over the contract's defaults.
func ParseRules(data []byte) (*Rules, error) { return parseRules(data, defaultRules) }

func parseRules(data []byte, base *Rules) (*Rules, error) {
	var f rulesFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	r := &Rules{
		approval:      map[string]bool{},
		responseCodes: map[string]Cause{},
		errorTypes:    map[string]Cause{},
		classes:       map[Cause]Class{},
		descriptions:  map[Cause]string{},
	}
	if base != nil {
		r.Revision = base.Revision
		copyMap(r.approval, base.approval)
		copyMap(r.responseCodes, base.responseCodes)
		copyMap(r.errorTypes, base.errorTypes)
		copyMap(r.classes, base.classes)
		copyMap(r.descriptions, base.descriptions)
	}
	if f.Revision == 0 {
		return nil, errors.New("revision must be set (a positive integer, raised on every change)")
	}
	if base != nil && f.Revision <= base.Revision {
		return nil, fmt.Errorf("revision %d must be greater than the shipped rules' revision %d", f.Revision, base.Revision)
	}
	r.Revision = f.Revision
	for _, c := range f.ApprovalCodes {
		code := NormalizeResponseCode(c)
		if !codePattern.MatchString(code) {
			return nil, fmt.Errorf("approval code %q: want two characters 0-9/A-Z", c)
		}
		r.approval[code] = true
	}
	seenCode := map[string]Cause{}
	seenErr := map[string]Cause{}
	names := make([]string, 0, len(f.Causes))
	for name := range f.Causes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cf := f.Causes[name]
		cause := Cause(name)
		if cause == CauseNone || !cause.Valid() {
			return nil, fmt.Errorf("cause %q is not in the taxonomy (%s)", name, causeList())
		}
		switch Class(cf.Class) {
		case "":
			if _, ok := r.classes[cause]; !ok {
				r.classes[cause] = ClassNone
			}
		case ClassSoft, ClassHard, ClassNone:
			r.classes[cause] = Class(cf.Class)
		default:
			return nil, fmt.Errorf("cause %s: class %q must be soft, hard or none", name, cf.Class)
		}
		if cf.Description != "" {
			r.descriptions[cause] = cf.Description
		}
		for _, c := range cf.ResponseCodes {
			code := NormalizeResponseCode(c)
			if !codePattern.MatchString(code) {
				return nil, fmt.Errorf("cause %s: response code %q: want two characters 0-9/A-Z", name, c)
			}
			if prev, dup := seenCode[code]; dup {
				return nil, fmt.Errorf("response code %s is listed under both %s and %s", code, prev, cause)
			}
			if r.approval[code] {
				return nil, fmt.Errorf("response code %s is an approval code and cannot be a failure cause", code)
			}
			seenCode[code] = cause
			r.responseCodes[code] = cause
		}
		for _, e := range cf.ErrorTypes {
			et := NormalizeErrorType(e)
			if !errorTypePattern.MatchString(et) {
				return nil, fmt.Errorf("cause %s: error.type %q: want lower-case letters, digits, '_', '.', '-'", name, e)
			}
			if prev, dup := seenErr[et]; dup {
				return nil, fmt.Errorf("error.type %s is listed under both %s and %s", et, prev, cause)
			}
			seenErr[et] = cause
			r.errorTypes[et] = cause
		}
	}
	for _, c := range Causes {
		if _, ok := r.classes[c]; !ok {
			r.classes[c] = ClassNone
		}
	}
	return r, nil
}

func copyMap[K comparable, V any](dst, src map[K]V) {
	for k, v := range src {
		dst[k] = v
	}
}

func causeList() string {
	s := make([]string, len(Causes))
	for i, c := range Causes {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// NormalizeResponseCode trims and upper-cases an ISO 8583 field 39 value.
func NormalizeResponseCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// NormalizeErrorType trims and lower-cases an error.type value.
func NormalizeErrorType(et string) string { return strings.ToLower(strings.TrimSpace(et)) }

// IsApproval reports whether a response code approves the transaction.
func (r *Rules) IsApproval(code string) bool { return r.approval[NormalizeResponseCode(code)] }

// CauseOfCode gives the cause of a response code; unlisted codes are unknown.
func (r *Rules) CauseOfCode(code string) Cause {
	if c, ok := r.responseCodes[NormalizeResponseCode(code)]; ok {
		return c
	}
	return CauseUnknown
}

// CauseOfErrorType gives the cause of an error.type; unlisted values are unknown.
func (r *Rules) CauseOfErrorType(et string) Cause {
	if c, ok := r.errorTypes[NormalizeErrorType(et)]; ok {
		return c
	}
	return CauseUnknown
}

// ClassOf says whether a cause is soft (retryable) or hard.
func (r *Rules) ClassOf(c Cause) Class {
	if cl, ok := r.classes[c]; ok {
		return cl
	}
	return ClassNone
}

// Description is the human sentence for a cause.
func (r *Rules) Description(c Cause) string { return r.descriptions[c] }

// CauseInfo describes one cause for listings (CLI, plugin taxonomy resource).
type CauseInfo struct {
	Cause         Cause    `json:"cause"`
	Class         Class    `json:"class"`
	Description   string   `json:"description"`
	ResponseCodes []string `json:"response_codes"`
	ErrorTypes    []string `json:"error_types"`
}

// Taxonomy lists every cause with its codes, in the contract's order.
func (r *Rules) Taxonomy() []CauseInfo {
	out := make([]CauseInfo, 0, len(Causes))
	for _, c := range Causes {
		info := CauseInfo{Cause: c, Class: r.ClassOf(c), Description: r.descriptions[c], ResponseCodes: []string{}, ErrorTypes: []string{}}
		for code, cc := range r.responseCodes {
			if cc == c {
				info.ResponseCodes = append(info.ResponseCodes, code)
			}
		}
		for et, cc := range r.errorTypes {
			if cc == c {
				info.ErrorTypes = append(info.ErrorTypes, et)
			}
		}
		sort.Strings(info.ResponseCodes)
		sort.Strings(info.ErrorTypes)
		out = append(out, info)
	}
	return out
}

// ApprovalCodes lists the approval codes, sorted.
func (r *Rules) ApprovalCodes() []string {
	out := make([]string, 0, len(r.approval))
	for c := range r.approval {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
