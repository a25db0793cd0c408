package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// ValidationRange is the fixed time range ValidateQueryJSON and
// ValidateVariableQueryJSON check queries over: seven days.
var ValidationRange = backend.TimeRange{
	From: time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC),
	To:   time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC),
}

// ValidateQueryJSON checks one saved query (a panel target or an
// annotation's query, as Grafana sends it once template variables are
// replaced) exactly as QueryData reads it, over ValidationRange, without a
// database: the query is parsed and validated by the same code, and each
// type's own checks (dimensions, metrics, statuses, KPI names, ids…) run up
// to the point where the question would go to the query layer. It returns
// the error the query would get, or nil. Dashboards as code use it to prove
// that every generated target is one the backend answers.
func ValidateQueryJSON(raw []byte) error {
	var head struct {
		RefID     string `json:"refId"`
		QueryType string `json:"queryType"`
	}
	_ = json.Unmarshal(raw, &head) // malformed JSON is reported by parseQuery
	dq := backend.DataQuery{
		RefID:         head.RefID,
		QueryType:     head.QueryType,
		JSON:          raw,
		TimeRange:     ValidationRange,
		Interval:      time.Minute,
		MaxDataPoints: 1000,
	}
	r, err := parseQuery(dq)
	if err != nil {
		return err
	}
	d := validationDatasource()
	return untilQueryLayer(func() error {
		_, err := d.answer(context.Background(), r, d.store)
		return err
	})
}

// ValidateVariableQueryJSON checks a template variable's query (the
// frontend's VariableQuery: refId, key, prefix, limit) as the values
// resource reads it, over ValidationRange, without a database.
func ValidateVariableQueryJSON(raw []byte) error {
	var vq struct {
		RefID  string `json:"refId"`
		Key    string `json:"key"`
		Prefix string `json:"prefix"`
		Limit  int    `json:"limit"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&vq); err != nil {
		return bad("the variable query cannot be read: %s", jsonProblem(err))
	}
	p := url.Values{}
	p.Set("key", vq.Key)
	if vq.Prefix != "" {
		p.Set("prefix", vq.Prefix)
	}
	if vq.Limit != 0 {
		p.Set("limit", strconv.Itoa(vq.Limit))
	}
	p.Set("from", strconv.FormatInt(ValidationRange.From.UnixMilli(), 10))
	p.Set("to", strconv.FormatInt(ValidationRange.To.UnixMilli(), 10))
	d := validationDatasource()
	rec := httptest.NewRecorder()
	err := untilQueryLayer(func() error {
		d.handleValues(rec, httptest.NewRequest(http.MethodGet, "/values?"+p.Encode(), nil))
		return nil
	})
	if err != nil || rec.Code == http.StatusOK {
		return err // reached the query layer, or answered without it
	}
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return bad("%s", strings.TrimSpace(body.Error))
}

func validationDatasource() *Datasource {
	d := NewWithStore(Settings{}, reachStore{}, "settlewatch")
	d.Now = func() time.Time { return ValidationRange.To }
	return d
}

// reachStore stands in for the query layer: validation is over once a
// question reaches it. It embeds a nil Store, so whatever methods the
// interface has, a call to one stops the query right there: a nil
// dereference in reachStore's method, which untilQueryLayer recognises.
type reachStore struct{ Store }

// untilQueryLayer runs f; a call reaching reachStore counts as success.
// Any other panic is an error.
func untilQueryLayer(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(runtime.Error); ok && faultedInReachStore() {
				err = nil
				return
			}
			err = fmt.Errorf("validation panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return f()
}

// faultedInReachStore tells whether the frame that faulted (the first one
// after the runtime's signal panic) is a method of reachStore.
func faultedInReachStore() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(0, pcs)])
	afterSigpanic := false
	for {
		fr, more := frames.Next()
		if afterSigpanic {
			return strings.Contains(fr.Function, "reachStore")
		}
		afterSigpanic = fr.Function == "runtime.sigpanic"
		if !more {
			return false
		}
	}
}
