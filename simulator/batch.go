package simulator

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// fireClose closes the terminal's open batch: it decides the close's result
// (balanced, out of balance, failed upload) and, unless the upload failed,
// schedules the settlement file of the batch's approved transactions.
func (g *Generator) fireClose(i int, ts *termState) (*BatchClose, *SettlementFile) {
	at, prev, date := ts.closeAt, ts.prevClose, ts.closeDate
	batchNo, attempts, refs := ts.batchNo, ts.attempts, ts.refs

	ts.prevClose, ts.attempts, ts.refs = at, 0, nil
	if g.to.IsZero() || at.Before(g.to) {
		ts.closeDate = date.AddDate(0, 0, 1)
		ts.closeAt = g.closeTime(ts, ts.closeDate)
		ts.batchNo = g.batchNumber(ts, ts.closeDate)
		g.q.push(qItem{at: ts.closeAt.UnixNano(), kind: kClose, term: int32(i)})
	} else {
		ts.closeAt = time.Time{}
	}
	if attempts == 0 {
		return nil, nil // nothing happened on this terminal: no close
	}

	term := ts.t
	m := term.Merchant
	key := mix(g.seed, hashString("batch"), uint64(ts.idx), hashString(batchNo), uint64(date.Unix()))
	r := newRNG(key)
	bc := &BatchClose{
		Terminal: term, BatchNumber: batchNo, BusinessDate: date.Format("2006-01-02"),
		Start: at, Currency: m.Region.Currency, Result: "balanced",
		TraceID: traceIDFrom(key), SpanID: spanIDFrom(key, 0),
	}
	for _, ref := range refs {
		switch ref.typ {
		case "sale", "completion":
			bc.TxnCount++
			bc.AmountMinor += ref.amount
		case "refund":
			bc.TxnCount++
			bc.AmountMinor -= ref.amount
		}
	}

	// Baseline draws come first and always happen, so scenarios never shift them.
	baseFail := r.chance(g.cfg.Baseline.BatchFailureRate)
	baseErr := choices("upload_failed", 0.6, "sync_failure", 0.25, "batch_rejected", 0.15).draw(&r)
	outOfBalance, rejectShare := false, 0.0
	failErr, failScenario := "", ""
	if baseFail {
		failErr = baseErr
	}
	for _, s := range g.scen {
		if !s.matchesTerminal(term) || !s.affectsClose(at, prev) {
			continue
		}
		sr := newRNG(mix(key, 0x5ce7a810, uint64(s.Index)))
		switch s.Type {
		case ScenarioNetworkDegradation:
			if failScenario == "" && sr.chance(s.BatchRates["batch_upload_failure"]) {
				failErr, failScenario = "upload_failed", s.Name
			}
		case ScenarioBatchOutOfBalance:
			if !outOfBalance && sr.chance(s.BatchRates["out_of_balance"]) {
				outOfBalance, rejectShare = true, s.BatchRates["rejected"]
				if bc.Scenario == "" {
					bc.Scenario = s.Name
				}
			}
		}
	}
	switch {
	case failErr != "":
		bc.Result, bc.ErrType = "failed", failErr
		bc.Message = map[string]string{
			"upload_failed":  "batch upload failed: host unreachable",
			"sync_failure":   "batch totals could not be synchronised",
			"batch_rejected": "host rejected the batch",
		}[failErr]
		if failScenario != "" {
			bc.Scenario = failScenario
		}
		switch failErr {
		case "upload_failed":
			bc.End = at.Add(r.dur(30*time.Second, 65*time.Second))
		default:
			bc.End = at.Add(r.dur(2*time.Second, 10*time.Second))
		}
	case outOfBalance:
		bc.Result = "out_of_balance"
		bc.End = at.Add(r.dur(3*time.Second, 15*time.Second))
	default:
		bc.End = at.Add(r.dur(2*time.Second, 12*time.Second))
	}
	if bc.Failed() || len(refs) == 0 {
		return bc, nil
	}

	// Settlement: the same evening for D0 merchants, the next morning for T+1.
	file := &SettlementFile{Terminal: term, Acquirer: m.Acquirer, BatchNumber: batchNo,
		PerFile: g.cfg.Baseline.SettlementTraces == "per_file"}
	if m.D0 {
		file.Time = bc.End.Add(r.dur(20*time.Minute, 60*time.Minute))
		file.Date = bc.BusinessDate
	} else {
		next := date.AddDate(0, 0, 1)
		file.Time = time.Date(next.Year(), next.Month(), next.Day(), 2, 0, 0, 0, g.loc).
			Add(time.Duration(m.Acquirer.Index%6) * 40 * time.Minute).Add(r.dur(0, 90*time.Minute))
		file.Date = next.Format("2006-01-02")
	}
	file.Time = file.Time.Truncate(time.Millisecond)
	fileKey := mix(key, hashString("file"))
	fileTrace := traceIDFrom(fileKey)
	cur := file.Time
	for k, ref := range refs {
		it := SettlementItem{TxnID: ref.id, TxnType: ref.typ, AmountMinor: ref.amount, Currency: ref.currency,
			Status: "settled", Code: "00"}
		u1, u2 := r.float(), r.float() // always two draws per item
		switch {
		case outOfBalance && u1 < rejectShare:
			it.Status, it.Scenario = "rejected", bc.Scenario
			switch {
			case u2 < 0.8:
				it.Code = "95"
			case u2 < 0.9:
				it.Code = "77"
			default:
				it.Code, it.ErrType = "", "batch_out_of_balance"
			}
		case !outOfBalance && u1 < g.cfg.Baseline.SettlementRejectionRate:
			it.Status = "rejected"
			switch {
			case u2 < 0.5:
				it.Code = "95"
			case u2 < 0.7:
				it.Code = "77"
			default:
				it.Code, it.ErrType = "", "settlement_rejected"
			}
		}
		it.Start = cur
		it.End = cur.Add(time.Duration(1+k%4) * time.Millisecond)
		cur = it.End.Add(time.Duration(2+k%7) * time.Millisecond)
		if file.PerFile {
			it.TraceID = fileTrace
			it.SpanID = spanIDFrom(fileKey, k)
			if k > 0 {
				it.ParentID = file.Items[0].SpanID
			}
		} else {
			ik := mix(g.seed, hashString("settle"), hashString(ref.id))
			it.TraceID = traceIDFrom(ik)
			it.SpanID = spanIDFrom(ik, 0)
		}
		file.Items = append(file.Items, it)
	}
	return bc, file
}

// closeAttrs are the pos.batch.close span's attributes (identity attributes
// pos.terminal.id / pos.merchant.id are added by the emitter).
func (b *BatchClose) attrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("pos.batch.number", b.BatchNumber),
		attribute.Int64("pos.batch.txn_count", b.TxnCount),
		attribute.Int64("pos.batch.amount.minor", b.AmountMinor),
		attribute.String("pos.batch.result", b.Result),
		attribute.String("pos.currency", b.Currency),
		attribute.String("server.address", b.Terminal.Merchant.Gateway.Host),
		attribute.Int("server.port", b.Terminal.Merchant.Gateway.Port),
	}
}
