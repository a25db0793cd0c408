package chschema

// Tables written by the analytics jobs (analytics/…). They are created by
// migration 2. Every one is a ReplacingMergeTree keyed by what a job's window
// determines, with a version that grows with the data the job read: re-running
// a window writes the same keys again and replaces them (never adds), and two
// daemons running the same window at once write the same values. Readers use
// FINAL.

// Enum of the analytics tables. Never renumber, only append.
const (
	JobStatusEnum = "Enum8('running' = 1, 'ok' = 2, 'error' = 3, 'panic' = 4, 'canceled' = 5)"
	IncidentEnum  = "Enum8('open' = 1, 'closed' = 2)"
)

// JobRuns records every run of an analytics job over a window: one row when
// it starts (status running) replaced by one when it ends. A run killed
// midway stays "running" with no finish time.
var JobRuns = Table{
	Name: "job_runs",
	ColumnDefs: []Column{
		lowCard("job"),
		str("run_id"),
		col("window_from", dateTimeUTC),
		col("window_to", dateTimeUTC),
		// watermark: transactions assembled before it are reflected once the
		// run is ok (the rollup job's late-data cursor).
		col("watermark", dateTimeUTC),
		col("started", dateTimeUTC),
		col("finished", dateTimeUTC),
		col("status", JobStatusEnum),
		col("rows", "UInt64"),
		bigStr("error"),
		lowCard("trigger"),
		str("host"),
		col("version", "UInt64"),
	},
	Version:     "version",
	PartitionBy: "toYYYYMM(started)",
	OrderBy:     "(job, run_id, window_from, window_to)",
	TTLColumn:   "started",
	ShardKey:    "cityHash64(job)",
	Everywhere:  true,
}

// Rollups holds counts, money and latency histograms per time bucket,
// granularity (seconds: 300, 3600, 86400), dimension value, outcome, cause
// and currency. dimension "all" (value "") is the total. latency_hist counts
// transactions per latency bucket (bounds in analytics/model).
var Rollups = Table{
	Name: "rollups",
	ColumnDefs: []Column{
		col("granularity", "UInt32"),
		lowCard("dimension"),
		col("bucket", dateTimeUTC),
		str("value"),
		col("outcome", OutcomeEnum),
		col("cause", CauseEnum),
		lowCard("currency"),
		col("transactions", "UInt64"),
		col("amount_minor", "Int64"),
		col("latency_sum_ms", "UInt64"),
		{Name: "latency_hist", Type: "Array(UInt64)", Codec: zstd},
		col("version", "UInt64"),
		col("computed_at", dateTimeUTC),
	},
	Version:     "version",
	PartitionBy: "toYYYYMM(bucket)",
	OrderBy:     "(granularity, dimension, bucket, value, outcome, cause, currency)",
	TTLColumn:   "bucket",
	ShardKey:    "cityHash64(dimension, value)",
}

// UnsettledAging is a snapshot, per sweep, of unsettled money by cause, age
// bucket and currency, in total (dimension "all") and per gateway, merchant
// and region.
var UnsettledAging = Table{
	Name: "unsettled_aging",
	ColumnDefs: []Column{
		col("as_of", dateTimeUTC),
		lowCard("dimension"),
		str("value"),
		col("cause", CauseEnum),
		lowCard("age_bucket"),
		lowCard("currency"),
		col("transactions", "UInt64"),
		col("amount_minor", "Int64"),
		col("version", "UInt64"),
	},
	Version:     "version",
	PartitionBy: "toYYYYMM(as_of)",
	OrderBy:     "(as_of, dimension, value, cause, age_bucket, currency)",
	TTLColumn:   "as_of",
	ShardKey:    "cityHash64(dimension, value)",
}

// Incidents are anomalies of a cause's failure rate, in total or in one
// dimension value, against the same hour of the week in previous weeks. The
// id is a hash of (cause, dimension, value, start) so every daemon names an
// incident alike; version is the evaluated bucket, so a later evaluation
// (closing it) replaces an earlier one and never the reverse.
var Incidents = Table{
	Name: "incidents",
	ColumnDefs: []Column{
		str("incident_id"),
		col("cause", CauseEnum),
		lowCard("dimension"),
		str("value"),
		col("granularity", "UInt32"),
		col("started", dateTimeUTC),
		col("ended", dateTimeUTC), // 1970-01-01 while open
		col("status", IncidentEnum),
		lowCard("kind"), // spike | step
		lowCard("severity"),
		col("score", "Float64"),
		col("baseline_rate", "Float64"),
		col("observed_rate", "Float64"),
		col("peak_rate", "Float64"),
		col("failures", "UInt64"),
		col("transactions", "UInt64"),
		bigStr("summary"),
		col("evaluated_to", dateTimeUTC),
		col("version", "UInt64"),
	},
	Version:     "version",
	PartitionBy: "toYYYYMM(started)",
	OrderBy:     "incident_id",
	TTLColumn:   "started",
	ShardKey:    "cityHash64(incident_id)",
}

// AuthLatency is the histogram of terminal-observed authorization latency
// (pos.host.request durations) per hour and gateway, with the timeouts the
// terminals reported; the timeout advice is computed from it.
var AuthLatency = Table{
	Name: "auth_latency",
	ColumnDefs: []Column{
		col("bucket", dateTimeUTC),
		lowCard("gateway_id"),
		col("requests", "UInt64"),
		col("timeouts", "UInt64"),
		{Name: "latency_hist", Type: "Array(UInt64)", Codec: zstd},
		col("version", "UInt64"),
	},
	Version:     "version",
	PartitionBy: "toYYYYMM(bucket)",
	OrderBy:     "(bucket, gateway_id)",
	TTLColumn:   "bucket",
	ShardKey:    "cityHash64(gateway_id)",
}

// TimeoutAdvice is the daily recommendation per gateway, over the trailing
// days the job is configured with: for each candidate terminal timeout, how
// many authorizations would have timed out.
var TimeoutAdvice = Table{
	Name: "timeout_advice",
	ColumnDefs: []Column{
		col("day", dateTimeUTC),
		lowCard("gateway_id"),
		col("requests", "UInt64"),
		col("observed_timeouts", "UInt64"),
		col("p50_ms", "Float64"),
		col("p90_ms", "Float64"),
		col("p99_ms", "Float64"),
		col("p999_ms", "Float64"),
		{Name: "candidates_ms", Type: "Array(UInt64)"},
		{Name: "would_timeout", Type: "Array(UInt64)"},
		col("recommended_ms", "UInt64"),
		bigStr("summary"),
		col("version", "UInt64"),
	},
	Version:     "version",
	PartitionBy: "toYYYYMM(day)",
	OrderBy:     "(day, gateway_id)",
	TTLColumn:   "day",
	ShardKey:    "cityHash64(gateway_id)",
}

// AnalyticsTables lists the tables of migration 2 in creation order.
func AnalyticsTables() []Table {
	return []Table{JobRuns, Rollups, UnsettledAging, Incidents, AuthLatency, TimeoutAdvice}
}

func v2(db string, d Dialect) []string {
	var out []string
	for _, t := range AnalyticsTables() {
		out = append(out, t.createSQL(db, d)...)
	}
	return out
}
