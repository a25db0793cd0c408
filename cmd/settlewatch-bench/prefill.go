package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chschema"
)

// prefill gives the database a history of n transactions (five facts each,
// as loadgen's, spread over the 30 days before now, with ids of loadgen's
// shape scattered over the same key space; a transaction's facts share one
// ingested_ns, as a collector stamps every row of a batch with one) unless
// it already holds that many facts: the
// assembler's read-back looks transactions up by id among all of them, so
// what ingest costs depends on how much is stored. Generated on the server
// from system.numbers; payment_facts only (the read-back reads the facts;
// spans are read only for broken parent chains).
func prefill(ctx context.Context, conn driver.Conn, db string, n int) error {
	have, err := countRows(ctx, conn, "SELECT count() FROM `"+db+"`."+chschema.PaymentFacts.Name)
	if err != nil {
		return fmt.Errorf("prefill: %w", err)
	}
	if have >= uint64(n)*5 {
		fmt.Printf("prefill: %s already holds %d facts\n", db, have)
		return nil
	}
	start := time.Now()
	from := time.Now().Add(-30 * 24 * time.Hour).Unix()
	// t: the transaction, s: its span (0..4, loadgen's order). Ids: the shape
	// of loadgen.TxnID's, 'B' and two 8-digit hex halves of a hash of t
	// (another hash: a collision is as likely as two 64-bit hashes meeting).
	src := fmt.Sprintf(`SELECT concat('B', lower(substring(hex(sipHash64(t)), 1, 8)), 'T', lower(substring(hex(sipHash64(t)), 9, 8))) AS txn_id,
	reinterpretAsFixedString(sipHash128(toString(t))) AS trace_id, reinterpretAsFixedString(sipHash64(number)) AS span_id,
	if(s = 0, reinterpretAsFixedString(toUInt64(0)), reinterpretAsFixedString(sipHash64(number - s + if(s = 4, 3, if(s = 3, 2, 0))))) AS parent_span_id,
	['pos.transaction', 'pos.card.read', 'pos.host.request', 'gateway.authorize', 'gateway.issuer.request'][s + 1] AS name,
	if(s < 3, 'pos-terminal', 'payment-gateway') AS service_name, toDateTime(%d + intDiv(t * 2592000, %d), 'UTC') AS start_time,
	toUInt64(start_time) * 1000000000 + s * 50000000 AS start_ns, toUInt64(800000000) AS duration_ns,
	if(s IN (0, 3), '00', '') AS response_code, if(s IN (0, 3), 'issuer', '') AS response_source, if(s = 0, 'sale', '') AS txn_type,
	toInt64(100 + t %% 100000) AS amount_minor, toUInt8(s = 0) AS amount_ok, if(s = 0, 'CNY', '') AS currency,
	concat('T', toString(t %% 20000)) AS terminal_id, concat('M', toString(t %% 3000)) AS merchant_id, 'gw-1' AS gateway_id,
	if(s = 4, 'acq-1', '') AS acquirer_id, if(s = 4, 'iss-1', '') AS issuer_id, '000123' AS batch_number, toUInt64(start_time) * 1000000000 AS ingested_ns
FROM (SELECT number, intDiv(number, 5) AS t, number %% 5 AS s FROM system.numbers LIMIT %d)`, from, n, n*5)
	cols := []string{"txn_id", "trace_id", "span_id", "parent_span_id", "name", "service_name", "start_time", "start_ns", "duration_ns",
		"response_code", "response_source", "txn_type", "amount_minor", "amount_ok", "currency", "terminal_id", "merchant_id",
		"gateway_id", "acquirer_id", "issuer_id", "batch_number", "ingested_ns"}
	if err := conn.Exec(ctx, "INSERT INTO `"+db+"`."+chschema.PaymentFacts.Name+" ("+strings.Join(cols, ", ")+") SELECT "+strings.Join(cols, ", ")+" FROM ("+src+")"); err != nil {
		return fmt.Errorf("prefill facts: %w", err)
	}
	fmt.Printf("prefill: %d transactions (%d facts) in %s\n", n, n*5, time.Since(start).Round(time.Second))
	return nil
}
