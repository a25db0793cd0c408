package simulator

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// DefaultSettlementWindow is the contract's default settlement window.
const DefaultSettlementWindow = 36 * time.Hour

// TruthRecord is the ground truth of one transaction: what the simulator sent
// and what the contract says its outcome and cause are, as of a time.
type TruthRecord struct {
	TxnID        string    `json:"txn_id"`
	Outcome      Outcome   `json:"outcome"`
	Cause        Cause     `json:"cause"` // "none" when the outcome has no cause
	GatewayID    string    `json:"gateway_id"`
	MerchantID   string    `json:"merchant_id"`
	TerminalID   string    `json:"terminal_id"`
	AmountMinor  int64     `json:"amount_minor"`
	Currency     string    `json:"currency"`
	TxnTime      time.Time `json:"txn_time"`      // start of pos.transaction, RFC 3339 with nanoseconds
	ResponseCode string    `json:"response_code"` // pos.response.code on pos.transaction ("" when failed)
	ErrorType    string    `json:"error_type"`    // the error.type the cause came from ("" when it came from a code)
	TxnType      string    `json:"txn_type"`
	TraceID      string    `json:"trace_id"`
	BatchNumber  string    `json:"batch_number"`
	RootError    string    `json:"root_error_type,omitempty"`   // error.type on pos.transaction
	Settlement   string    `json:"settlement_status,omitempty"` // settled / rejected when a settlement span was sent
	SettleCode   string    `json:"settlement_code,omitempty"`
	Scenario     string    `json:"scenario,omitempty"` // the scenario that shaped it
}

// TotalRow counts transactions by hour (UTC, of txn_time), gateway, cause,
// outcome and currency. Summing over outcome and currency gives cause x gateway x hour.
type TotalRow struct {
	Hour        time.Time `json:"hour"`
	GatewayID   string    `json:"gateway_id"`
	Cause       Cause     `json:"cause"`
	Outcome     Outcome   `json:"outcome"`
	Currency    string    `json:"currency"`
	Txns        int64     `json:"txns"`
	AmountMinor int64     `json:"amount_minor"`
}

type batchKey struct{ terminal, batch string }

type truthTxn struct {
	rec    TruthRecord
	auth   AuthResult
	settle *SettlementFact
}

// TruthRecorder accumulates the ground truth of the events it observes (call
// Observe for every emitted event). It is safe for concurrent use. It keeps a
// compact record per transaction in memory.
type TruthRecorder struct {
	mu        sync.Mutex
	window    time.Duration
	txns      []*truthTxn
	byID      map[string]*truthTxn
	failed    map[batchKey]string // error.type of failed batch closes
	pending   map[string]*SettlementFact
	ambiguous int
	closes    int64
	files     int64
}

// NewTruthRecorder makes a recorder with a settlement window (0: 36h).
func NewTruthRecorder(window time.Duration) *TruthRecorder {
	if window <= 0 {
		window = DefaultSettlementWindow
	}
	return &TruthRecorder{window: window, byID: map[string]*truthTxn{}, failed: map[batchKey]string{},
		pending: map[string]*SettlementFact{}}
}

// Window returns the settlement window.
func (tr *TruthRecorder) Window() time.Duration { return tr.window }

// Observe records an emitted event.
func (tr *TruthRecorder) Observe(ev Event) {
	switch ev.Kind {
	case EventTxn:
		t := ev.Txn
		auth, err := ClassifyAuth(t.Spans)
		if err != nil {
			auth = AuthResult{Outcome: OutcomeFailed, Cause: CauseUnknown}
		}
		rec := TruthRecord{
			TxnID: t.ID, GatewayID: t.Gateway.ID, MerchantID: t.Terminal.Merchant.ID, TerminalID: t.Terminal.ID,
			AmountMinor: t.AmountMinor, Currency: t.Currency, TxnTime: t.Time, ResponseCode: auth.Code,
			TxnType: t.Type, TraceID: t.TraceID.String(), BatchNumber: t.BatchNumber, RootError: auth.RootError,
			Scenario: t.Scenario,
		}
		tt := &truthTxn{rec: rec, auth: auth}
		tr.mu.Lock()
		if auth.Ambiguous {
			tr.ambiguous++
		}
		if _, dup := tr.byID[t.ID]; !dup {
			tr.txns = append(tr.txns, tt)
			tr.byID[t.ID] = tt
			if s, ok := tr.pending[t.ID]; ok {
				tt.settle = s
				delete(tr.pending, t.ID)
			}
		}
		tr.mu.Unlock()
	case EventBatchClose:
		tr.mu.Lock()
		tr.closes++
		if ev.Close.Failed() {
			tr.failed[batchKey{ev.Close.Terminal.ID, ev.Close.BatchNumber}] = ev.Close.ErrType
		}
		tr.mu.Unlock()
	case EventSettlement:
		tr.mu.Lock()
		tr.files++
		for _, it := range ev.File.Items {
			f := &SettlementFact{Status: it.Status, Code: it.Code, ErrorType: it.ErrType}
			if it.Status == "settled" {
				f.Code = "" // the code only matters for rejections
			}
			if tt, ok := tr.byID[it.TxnID]; ok {
				tt.settle = f
			} else {
				tr.pending[it.TxnID] = f
			}
		}
		tr.mu.Unlock()
	}
}

// Ambiguous counts transactions whose deepest failed spans disagree on the
// cause (the generator is built never to produce one; tests check it is 0).
func (tr *TruthRecorder) Ambiguous() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.ambiguous
}

// Len returns the number of transactions observed.
func (tr *TruthRecorder) Len() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.txns)
}

// Records returns the ground truth of every observed transaction as of asOf,
// sorted by transaction time, then id.
func (tr *TruthRecorder) Records(asOf time.Time) []TruthRecord {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]TruthRecord, 0, len(tr.txns))
	for _, tt := range tr.txns {
		rec := tt.rec
		failErr, failed := tr.failed[batchKey{rec.TerminalID, rec.BatchNumber}]
		rec.Outcome, rec.Cause, rec.ErrorType = FinalOutcome(tt.auth, rec.TxnType, rec.TxnTime, tt.settle, failed, failErr, tr.window, asOf)
		if tt.auth.Outcome == OutcomeFailed && rec.ErrorType == "" {
			rec.ErrorType = tt.auth.ErrorType
		}
		if tt.settle != nil && tt.auth.Outcome == OutcomeApproved && settlesType(rec.TxnType) {
			rec.Settlement, rec.SettleCode = tt.settle.Status, tt.settle.Code
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].TxnTime.Equal(out[j].TxnTime) {
			return out[i].TxnTime.Before(out[j].TxnTime)
		}
		return out[i].TxnID < out[j].TxnID
	})
	return out
}

// Totals aggregates records by hour, gateway, cause, outcome and currency.
func Totals(recs []TruthRecord) []TotalRow {
	type key struct {
		hour                         int64
		gw, cause, outcome, currency string
	}
	m := map[key]*TotalRow{}
	for _, r := range recs {
		h := r.TxnTime.UTC().Truncate(time.Hour)
		k := key{h.Unix(), r.GatewayID, string(r.Cause), string(r.Outcome), r.Currency}
		row, ok := m[k]
		if !ok {
			row = &TotalRow{Hour: h, GatewayID: r.GatewayID, Cause: r.Cause, Outcome: r.Outcome, Currency: r.Currency}
			m[k] = row
		}
		row.Txns++
		row.AmountMinor += r.AmountMinor
	}
	out := make([]TotalRow, 0, len(m))
	for _, r := range m {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Hour.Equal(b.Hour) {
			return a.Hour.Before(b.Hour)
		}
		if a.GatewayID != b.GatewayID {
			return a.GatewayID < b.GatewayID
		}
		if a.Cause != b.Cause {
			return a.Cause < b.Cause
		}
		if a.Outcome != b.Outcome {
			return a.Outcome < b.Outcome
		}
		return a.Currency < b.Currency
	})
	return out
}

// TruthSummary is written beside the records: the run's parameters and counts.
type TruthSummary struct {
	AsOf             time.Time        `json:"as_of"`
	SettlementWindow string           `json:"settlement_window"`
	Txns             int              `json:"txns"`
	BatchCloses      int64            `json:"batch_closes"`
	SettlementFiles  int64            `json:"settlement_files"`
	ByOutcome        map[string]int64 `json:"by_outcome"`
	ByCause          map[string]int64 `json:"by_cause"`
}

// Truth file names inside a truth directory.
const (
	TruthFile       = "truth.jsonl"
	TotalsCSVFile   = "totals.csv"
	TotalsJSONFile  = "totals.json"
	SummaryJSONFile = "summary.json"
)

// WriteDir writes truth.jsonl, totals.csv, totals.json and summary.json as of asOf into dir.
func (tr *TruthRecorder) WriteDir(dir string, asOf time.Time) (TruthSummary, error) {
	recs := tr.Records(asOf)
	sum := TruthSummary{AsOf: asOf.UTC(), SettlementWindow: tr.window.String(), Txns: len(recs),
		ByOutcome: map[string]int64{}, ByCause: map[string]int64{}}
	tr.mu.Lock()
	sum.BatchCloses, sum.SettlementFiles = tr.closes, tr.files
	tr.mu.Unlock()
	for _, r := range recs {
		sum.ByOutcome[string(r.Outcome)]++
		sum.ByCause[string(r.Cause)]++
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, err
	}
	if err := writeFile(filepath.Join(dir, TruthFile), func(w io.Writer) error { return WriteTruthJSONL(w, recs) }); err != nil {
		return sum, err
	}
	tot := Totals(recs)
	if err := writeFile(filepath.Join(dir, TotalsCSVFile), func(w io.Writer) error { return WriteTotalsCSV(w, tot) }); err != nil {
		return sum, err
	}
	if err := writeFile(filepath.Join(dir, TotalsJSONFile), func(w io.Writer) error { return writeJSON(w, tot) }); err != nil {
		return sum, err
	}
	err := writeFile(filepath.Join(dir, SummaryJSONFile), func(w io.Writer) error { return writeJSON(w, sum) })
	return sum, err
}

func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := fn(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTruthJSONL writes one JSON object per line.
func WriteTruthJSONL(w io.Writer, recs []TruthRecord) error {
	enc := json.NewEncoder(w)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return err
		}
	}
	return nil
}

// WriteTotalsCSV writes totals with a header line.
func WriteTotalsCSV(w io.Writer, rows []TotalRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"hour", "gateway_id", "cause", "outcome", "currency", "txns", "amount_minor"}); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{r.Hour.UTC().Format(time.RFC3339), r.GatewayID, string(r.Cause), string(r.Outcome),
			r.Currency, strconv.FormatInt(r.Txns, 10), strconv.FormatInt(r.AmountMinor, 10)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadTruth reads JSON Lines ground truth.
func ReadTruth(r io.Reader) ([]TruthRecord, error) {
	var out []TruthRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec TruthRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("truth line %d: %v", line, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// ReadTruthFile reads a truth.jsonl file (or the truth.jsonl of a directory).
func ReadTruthFile(path string) ([]TruthRecord, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, TruthFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTruth(f)
}
