package chschema

// Enum types shared by several tables. The names and numbers are part of the
// stored data: never renumber, only append.
const (
	KindEnum       = "Enum8('unspecified' = 0, 'internal' = 1, 'server' = 2, 'client' = 3, 'producer' = 4, 'consumer' = 5)"
	StatusCodeEnum = "Enum8('unset' = 0, 'ok' = 1, 'error' = 2)"
	OutcomeEnum    = "Enum8('approved' = 1, 'declined' = 2, 'failed' = 3, 'pending' = 4, 'settled' = 5, 'settlement_rejected' = 6, 'unsettled' = 7)"
	CauseEnum      = "Enum8('none' = 0, 'network' = 1, 'timeout' = 2, 'gateway' = 3, 'system' = 4, 'account' = 5, 'authorization' = 6, 'operator' = 7, 'limit' = 8, 'bank_policy' = 9, 'card' = 10, 'settlement' = 11, 'unknown' = 12)"
	CauseClassEnum = "Enum8('none' = 0, 'soft' = 1, 'hard' = 2)"
)

const (
	dateTimeUTC = "DateTime('UTC')"
	zstd        = "ZSTD(1)"
	deltaZSTD   = "Delta, ZSTD(1)"
)

func col(name, typ string) Column { return Column{Name: name, Type: typ} }
func str(name string) Column      { return col(name, "String") }
func lowCard(name string) Column  { return Column{Name: name, Type: "String", LowCard: true} }
func bigStr(name string) Column   { return Column{Name: name, Type: "String", Codec: zstd} }
func nanos(name string) Column    { return Column{Name: name, Type: "UInt64", Codec: deltaZSTD} } // a point in time
func nanosDur(name string) Column { return Column{Name: name, Type: "UInt64", Codec: zstd} }      // a duration: Delta would not help
func traceID(name string) Column  { return col(name, "FixedString(16)") }                         // raw 16 bytes
func spanID(name string) Column   { return col(name, "FixedString(8)") }                          // raw 8 bytes
func nested(name string, fields ...Column) Column {
	return Column{Name: name, Codec: zstd, Fields: fields}
}

// Migrations records applied schema migrations. Two processes migrating at
// once may both record a version; ReplacingMergeTree collapses them, and
// readers use FINAL.
var Migrations = Table{
	Name: "schema_migrations",
	ColumnDefs: []Column{
		col("version", "UInt32"),
		str("name"),
		str("checksum"),
		col("applied_at", dateTimeUTC),
		str("applied_by"),
	},
	Version:    "applied_at",
	OrderBy:    "version",
	Everywhere: true,
}

// Spans holds every raw span: what on-call needs to rebuild a trace.
var Spans = Table{
	Name: "spans",
	ColumnDefs: []Column{
		traceID("trace_id"),
		spanID("span_id"),
		spanID("parent_span_id"),
		col("start_time", dateTimeUTC),
		nanos("start_ns"), // unix nanoseconds; DateTime64 does not exist on 18.16
		nanosDur("duration_ns"),
		lowCard("service_name"),
		lowCard("name"),
		col("kind", KindEnum),
		col("status_code", StatusCodeEnum),
		bigStr("status_message"),
		str("txn_id"),
		lowCard("scope_name"),
		nested("attributes", str("key"), str("value")),
		nested("resource", str("key"), str("value")),
		nested("events", col("time_ns", "UInt64"), str("name"), str("attributes")), // attributes: JSON object
		nested("links", str("trace_id"), str("span_id")),                           // hex ids
		nanos("ingested_ns"),
	},
	Version:     "ingested_ns",
	PartitionBy: "toYYYYMMDD(start_time)",
	OrderBy:     "(trace_id, span_id)",
	TTLColumn:   "start_time",
	Indexes:     []Index{{Name: "idx_txn_id", Expr: "txn_id", Type: "bloom_filter(0.01)", Granularity: 4}},
	ShardKey:    "cityHash64(trace_id)",
}

// PaymentFacts has one row per payment-relevant span: the assembler's input.
// It is partitioned by the day the collector stored each row (ingested_ns)
// and ordered by txn_id within the day:
//   - assembly at ingest reads a batch's transactions among the facts of the
//     last days only (ingested_ns >= RecentCutoff: the older days' parts are
//     not read), so its cost is what those days hold, not the history;
//   - a lookup by id reads a granule per day and part (ReadTxnFacts).
//
// Until migration 9 the facts were stored twice: in payment_facts, by month
// of start time, and in recent_facts, by arrival day for assembly
// (tables_retired.go; docs/benchmarks.md, "Facts stored once").
var PaymentFacts = Table{
	Name:        "payment_facts_by_arrival",
	ColumnDefs:  paymentFactColumns(),
	Version:     "ingested_ns",
	PartitionBy: "toYYYYMMDD(" + arrivalTime + ")",
	OrderBy:     paymentFactsV1.OrderBy,
	TTLColumn:   "start_time",
	ShardKey:    paymentFactsV1.ShardKey,
}

// arrivalTime is a fact's arrival (ingested_ns) as a DateTime.
const arrivalTime = "toDateTime(intDiv(ingested_ns, 1000000000), 'UTC')"

func paymentFactColumns() []Column {
	return []Column{
		str("txn_id"),
		traceID("trace_id"),
		spanID("span_id"),
		spanID("parent_span_id"),
		lowCard("name"),
		lowCard("service_name"),
		col("kind", KindEnum),
		col("start_time", dateTimeUTC),
		nanos("start_ns"),
		nanosDur("duration_ns"),
		col("status_code", StatusCodeEnum),
		lowCard("error_type"),
		lowCard("response_code"),
		lowCard("response_source"),
		lowCard("txn_type"),
		col("amount_minor", "Int64"),
		col("amount_ok", "UInt8"),
		lowCard("currency"),
		str("terminal_id"),
		lowCard("terminal_model"),
		str("merchant_id"),
		lowCard("region"),
		lowCard("gateway_id"),
		lowCard("acquirer_id"),
		lowCard("issuer_id"),
		lowCard("card_scheme"),
		lowCard("card_funding"),
		lowCard("entry_mode"),
		str("card_bin"),
		str("batch_number"),
		lowCard("settlement_status"),
		str("settlement_date"),
		str("server_address"),
		nanos("ingested_ns"),
	}
}

// BatchCloses has one row per pos.batch.close span.
var BatchCloses = Table{
	Name: "batch_closes",
	ColumnDefs: []Column{
		str("terminal_id"),
		str("merchant_id"),
		str("batch_number"),
		traceID("trace_id"),
		spanID("span_id"),
		col("close_time", dateTimeUTC),
		nanos("close_ns"),
		col("status_code", StatusCodeEnum),
		lowCard("batch_result"),
		lowCard("error_type"),
		col("txn_count", "Int64"),
		col("amount_minor", "Int64"),
		nanos("ingested_ns"),
	},
	Version:     "ingested_ns",
	PartitionBy: "toYYYYMM(close_time)",
	OrderBy:     "(terminal_id, batch_number, span_id)",
	TTLColumn:   "close_time",
	ShardKey:    "cityHash64(terminal_id)",
}

// Transactions is where a transaction's versions are written: assembly, the
// settlement sweep and the generators insert here, one row per version. It is
// a Null table: it stores nothing, and the materialized view ByTimeView files
// every row into TransactionsByTime, which holds the transactions (the
// highest version wins). Until migration 8 the versions were also kept in a
// table ordered by txn_id (transactionsV1), a second copy to write and merge
// for every collector batch.
var Transactions = Table{
	Name:       "transaction_versions",
	ColumnDefs: transactionColumns(),
	Null:       true,
	ShardKey:   "cityHash64(txn_id)",
}

// transactionColumns are a transaction version's columns.
func transactionColumns() []Column {
	return []Column{
		str("txn_id"),
		col("version", "UInt64"),
		col("txn_time", dateTimeUTC),
		nanos("txn_ns"),
		traceID("trace_id"),
		lowCard("txn_type"),
		col("outcome", OutcomeEnum),
		col("cause", CauseEnum),
		col("cause_class", CauseClassEnum),
		lowCard("cause_source"),
		lowCard("cause_code"),
		lowCard("response_code"),
		lowCard("response_source"),
		lowCard("error_type"),
		col("amount_minor", "Int64"),
		lowCard("currency"),
		str("terminal_id"),
		lowCard("terminal_model"),
		str("merchant_id"),
		lowCard("region"),
		lowCard("gateway_id"),
		lowCard("acquirer_id"),
		lowCard("issuer_id"),
		lowCard("card_scheme"),
		lowCard("card_funding"),
		lowCard("entry_mode"),
		str("card_bin"),
		str("batch_number"),
		lowCard("settlement_status"),
		str("settlement_date"),
		lowCard("settlement_code"),
		nanos("settled_ns"),
		nanosDur("latency_ns"),
		col("span_count", "UInt32"),
		col("rules_revision", "UInt32"),
		{Name: "data_issues", Type: "Array(String)", Codec: zstd},
		// fact_hours: the hour of every fact seen. txn_time is always one
		// fact's time, so an older version of the row may have had any of
		// these hours; transactions_by_time hides those stale copies.
		{Name: "fact_hours", Type: "Array(" + dateTimeUTC + ")", Codec: zstd, Since: 3},
		col("assembled_at", dateTimeUTC),
	}
}

// Tables lists the tables migration 1 created that the schema still has, in
// creation order.
func Tables() []Table {
	return []Table{Migrations, Spans, PaymentFacts, BatchCloses}
}
