package query

import (
	"context"
	"fmt"
	"time"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// IncidentsQuery lists incidents overlapping a range (or all open ones).
type IncidentsQuery struct {
	// Range, if set, selects incidents that were open at some point in it.
	Range    Range
	OpenOnly bool
	Causes   []string
	// Dimension ("all" or a dimension name) and Value narrow the slice.
	Dimension string
	Value     string
	Limit     int
}

// Incident is one anomaly of a cause's failure rate.
type Incident struct {
	ID           string    `json:"incident_id"`
	Status       string    `json:"status"`
	Cause        string    `json:"cause"`
	Dimension    string    `json:"dimension"`
	Value        string    `json:"value"`
	Started      time.Time `json:"started"`
	Ended        time.Time `json:"ended"` // zero while open
	Kind         string    `json:"kind"`
	Severity     string    `json:"severity"`
	Score        float64   `json:"score"`
	Baseline     float64   `json:"baseline_rate"`
	Observed     float64   `json:"observed_rate"`
	Peak         float64   `json:"peak_rate"`
	Failures     uint64    `json:"failures"`
	Transactions uint64    `json:"transactions"`
	Summary      string    `json:"summary"`
	EvaluatedTo  time.Time `json:"evaluated_to"`
}

// Incidents lists incidents, newest first.
func (q *Querier) Incidents(ctx context.Context, iq IncidentsQuery) ([]Incident, Meta, error) {
	w := &where{}
	if !iq.Range.From.IsZero() || !iq.Range.To.IsZero() {
		if err := iq.Range.Validate(); err != nil {
			return nil, Meta{}, err
		}
		w.add("started < toDateTime(?) AND (status = 'open' OR ended > toDateTime(?))", iq.Range.To.Unix(), iq.Range.From.Unix())
	}
	if iq.OpenOnly {
		w.add("status = 'open'")
	}
	for _, c := range iq.Causes {
		if !domain.Cause(c).Valid() || c == string(domain.CauseNone) {
			return nil, Meta{}, invalid("unknown cause %q: want one of %s", clip(c), causeNames())
		}
	}
	if len(iq.Causes) > 0 {
		w.add("cause IN ?", set(iq.Causes))
	}
	if iq.Dimension != "" {
		dim := model.All
		if iq.Dimension != model.All {
			d, err := model.LookupDimension(iq.Dimension)
			if err != nil {
				return nil, Meta{}, invalid("%v", err)
			}
			dim = d.Name
		}
		w.add("dimension = ?", dim)
	}
	if iq.Value != "" {
		if err := model.ValidateValue(iq.Value); err != nil {
			return nil, Meta{}, invalid("%v", err)
		}
		w.add("value = ?", iq.Value)
	}
	if len(w.conds) == 0 {
		w.add("1")
	}
	limit := iq.Limit
	if limit <= 0 || limit > q.maxRows() {
		limit = q.maxRows()
	}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	rows, err := q.Conn.Query(qctx, "SELECT incident_id, toString(status), toString(cause), dimension, value, started, ended, kind, severity, score,"+
		" baseline_rate, observed_rate, peak_rate, failures, transactions, summary, evaluated_to FROM "+q.table(chschema.Incidents.Name)+
		" FINAL WHERE "+w.sql()+" ORDER BY started DESC, incident_id LIMIT ?", append(w.args, limit+1)...)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		var i Incident
		if err := rows.Scan(&i.ID, &i.Status, &i.Cause, &i.Dimension, &i.Value, &i.Started, &i.Ended, &i.Kind, &i.Severity, &i.Score,
			&i.Baseline, &i.Observed, &i.Peak, &i.Failures, &i.Transactions, &i.Summary, &i.EvaluatedTo); err != nil {
			return nil, Meta{}, fmt.Errorf("incidents: %w", err)
		}
		i.Started, i.EvaluatedTo = i.Started.UTC(), i.EvaluatedTo.UTC()
		if i.Ended.Unix() <= 0 {
			i.Ended = time.Time{}
		} else {
			i.Ended = i.Ended.UTC()
		}
		out = append(out, i)
	}
	meta := Meta{Source: "incidents"}
	if len(out) > limit {
		out, meta.Truncated = out[:limit], true
	}
	return out, meta, rows.Err()
}
