package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
)

// Health is the health check's details (JSONDetails).
type Health struct {
	Server          string    `json:"server"`
	Address         string    `json:"address"`
	Database        string    `json:"database"`
	SchemaVersion   uint32    `json:"schemaVersion"`
	SchemaExpected  uint32    `json:"schemaExpected"`
	RollupWatermark time.Time `json:"rollupWatermark,omitzero"`
	RollupsFresh    bool      `json:"rollupsFresh"`
	ReadOnly        bool      `json:"readOnly"`
}

// CheckHealth pings ClickHouse and reports the server, the schema version
// (an error when the database is not migrated far enough for this plugin)
// and whether the rollups are fresh (when they are not, long ranges are
// answered from the raw tables: the same numbers, slower).
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: "Settings: " + strings.ReplaceAll(d.settingsErr.Error(), "\n", "; ")}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.settings.QueryTimeout()+time.Duration(d.settings.DialTimeoutSeconds)*time.Second)
	defer cancel()
	conn, err := d.connect(ctx)
	if err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf("%v (address %s, database %s, user %s)",
			err, d.settings.Conn().Addr[0], d.settings.Database, d.settings.Username)}, nil
	}
	h := Health{Address: d.settings.Conn().Addr[0], Database: d.settings.Database, SchemaExpected: chschema.LatestVersion()}
	qctx, qcancel := chconn.WithQuerySettings(ctx, d.settings.QueryTimeout())
	defer qcancel()
	if err := conn.Ping(qctx); err != nil {
		d.dropConn()
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: fmt.Sprintf("ClickHouse at %s does not answer: %v", h.Address, err)}, nil
	}
	v, err := chconn.ServerVersion(qctx, conn)
	if err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: err.Error()}, nil
	}
	h.Server = v.String()
	h.SchemaVersion, err = chschema.Status(qctx, conn, d.settings.Database)
	if err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: err.Error()}, nil
	}
	details, _ := json.Marshal(&h)
	switch {
	case h.SchemaVersion == 0:
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, JSONDetails: details,
			Message: fmt.Sprintf("ClickHouse %s is reachable, but database %s has no settlewatch schema: run `settlewatch migrate` (or start the collector, which migrates)", h.Server, h.Database)}, nil
	case h.SchemaVersion < h.SchemaExpected:
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, JSONDetails: details,
			Message: fmt.Sprintf("Database %s has schema version %d; this plugin needs %d: run `settlewatch migrate`", h.Database, h.SchemaVersion, h.SchemaExpected)}, nil
	}
	msg := []string{fmt.Sprintf("ClickHouse %s at %s, database %s: schema version %d", h.Server, h.Address, h.Database, h.SchemaVersion)}
	if h.SchemaVersion > h.SchemaExpected {
		msg[0] += fmt.Sprintf(" (newer than the %d this plugin knows: update the plugin)", h.SchemaExpected)
	} else {
		msg[0] += " (current)"
	}
	env := &jobs.Env{Conn: conn, DB: d.settings.Database, QueryTimeout: d.settings.QueryTimeout()}
	wm, err := jobs.LastWatermark(ctx, env, rollup.Name)
	stale := time.Duration(d.settings.RollupStaleMinutes) * time.Minute
	switch {
	case err != nil:
		msg = append(msg, fmt.Sprintf("rollups: unknown (%v)", err))
	case wm.IsZero():
		msg = append(msg, "rollups: the rollup job has not run on schedule yet, so long ranges are answered from the raw tables (same numbers, slower)")
	default:
		h.RollupWatermark = wm
		age := d.now().Sub(wm)
		h.RollupsFresh = age <= stale
		if h.RollupsFresh {
			msg = append(msg, fmt.Sprintf("rollups: fresh (up to %s, %s ago)", wm.Format(time.RFC3339), age.Round(time.Second)))
		} else {
			msg = append(msg, fmt.Sprintf("rollups: STALE (up to %s, %s ago; more than %s): is the analytics daemon running? Ranges the rollups do not cover are answered from the raw tables",
				wm.Format(time.RFC3339), age.Round(time.Minute), stale))
		}
	}
	var ro string
	if err := conn.QueryRow(qctx, "SELECT value FROM system.settings WHERE name = 'readonly'").Scan(&ro); err == nil {
		h.ReadOnly = ro != "0"
		if h.ReadOnly {
			msg = append(msg, "user "+d.settings.Username+" is read-only (recommended)")
		} else {
			msg = append(msg, "user "+d.settings.Username+" can write: use a read-only profile (readonly=2) for Grafana, see the plugin README")
		}
	}
	details, _ = json.Marshal(&h)
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: strings.Join(msg, "; "), JSONDetails: details}, nil
}

func (d *Datasource) dropConn() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		_ = d.conn.Close()
		d.conn = nil
	}
}
