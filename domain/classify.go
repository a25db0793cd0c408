package domain

import (
	"sort"
	"time"
)

// DefaultSettlementWindow is how long an approved sale may wait for its
// settlement before it counts as unsettled.
const DefaultSettlementWindow = 36 * time.Hour

// Input is everything known about one transaction.
type Input struct {
	Facts []Fact
	// Batches are the pos.batch.close spans of the transaction's terminal and batch.
	Batches []BatchClose
	// Links fill gaps in the parent chain between facts (optional).
	Links []SpanLink
	// AsOf is "now" for the settlement window.
	AsOf time.Time
	// Window is the settlement window; zero means DefaultSettlementWindow.
	Window time.Duration
}

// Data issues recorded on a transaction: the data arrived but is incomplete or
// malformed; the transaction is still classified.
const (
	IssueNoRootSpan = "no_root_span"
	// IssueRootNotNamed: no span was named pos.transaction, so the trace's
	// root span stood in for it (clients that name their root otherwise).
	IssueRootNotNamed      = "root_not_named_pos_transaction"
	IssueManyRootSpans     = "many_root_spans"
	IssueAmountNotInteger  = "amount_not_integer"
	IssueAmountMissing     = "amount_missing"
	IssueConflictingSettle = "conflicting_settlement"
)

// Transaction is the classified state of one transaction.
type Transaction struct {
	TxnID   string
	TraceID string
	TxnNs   int64
	TxnType string
	Outcome Outcome
	Cause   Cause
	Class   Class
	// CauseSource names the field that gave the cause: response_code,
	// error_type, descendant_error_type, settlement_response_code,
	// settlement_error_type, batch_close_error_type, or default.
	CauseSource string
	// CauseCode is the raw code or error.type the cause came from.
	CauseCode        string
	ResponseCode     string
	ResponseSource   string
	ErrorType        string
	AmountMinor      int64
	Currency         string
	Dims             Dimensions
	SettlementStatus string
	SettlementDate   string
	SettlementCode   string
	SettledNs        int64
	LatencyNs        int64
	SpanCount        int
	// WindowPassed is true once the settlement window has passed (pending
	// and unsettled only); it makes the sweep's row newer than ingest's.
	WindowPassed bool
	Issues       []string
}

// Classify derives a transaction's outcome and cause from its facts, exactly
// as the contract says. It is pure: same input, same output.
func (r *Rules) Classify(in Input) Transaction {
	facts := sortedFacts(in.Facts)
	var t Transaction
	t.SpanCount = len(facts)
	root, roots := pickRoot(facts)
	if root == nil {
		if root = standInRoot(facts); root != nil {
			t.Issues = append(t.Issues, IssueRootNotNamed)
		} else {
			t.Issues = append(t.Issues, IssueNoRootSpan)
		}
	} else if roots > 1 {
		t.Issues = append(t.Issues, IssueManyRootSpans)
	}
	if len(facts) > 0 {
		t.TxnID = facts[0].TxnID
		t.TxnNs = facts[0].StartNs
	}
	var settle *Fact
	if root != nil {
		t.TxnID = root.TxnID
		t.TraceID = root.TraceID
		t.TxnNs = root.StartNs
		t.TxnType = root.TxnType
		t.ResponseCode = root.ResponseCode
		t.ResponseSource = root.ResponseSource
		t.ErrorType = root.ErrorType
		t.Currency = root.Currency
		t.LatencyNs = root.DurationNs
		t.Dims = root.Dims
		switch root.Amount {
		case AmountOK:
			t.AmountMinor = root.AmountMinor
		case AmountInvalid:
			t.Issues = append(t.Issues, IssueAmountNotInteger)
		default:
			t.Issues = append(t.Issues, IssueAmountMissing)
		}
	}
	for i := range facts {
		f := &facts[i]
		t.Dims.fill(f.Dims)
		if f.Name == SpanSettlement || f.SettlementStatus != "" {
			if settle != nil && settle.SettlementStatus != f.SettlementStatus {
				addIssue(&t, IssueConflictingSettle)
			}
			// The latest settlement answer wins (a re-presented item may settle later).
			if settle == nil || f.StartNs >= settle.StartNs {
				settle = f
			}
		}
		if t.Currency == "" && f.Currency != "" {
			t.Currency = f.Currency
		}
	}
	if root == nil || root.Amount != AmountOK {
		// The settlement span carries the amount too; use it when the
		// terminal's is absent or broken.
		for i := range facts {
			if facts[i].Amount == AmountOK {
				t.AmountMinor = facts[i].AmountMinor
				removeIssue(&t, IssueAmountMissing)
				break
			}
		}
	}
	if settle != nil {
		t.SettlementStatus = settle.SettlementStatus
		t.SettlementDate = settle.SettlementDate
		t.SettlementCode = settle.ResponseCode
		t.SettledNs = settle.StartNs + settle.DurationNs
	}

	switch {
	case root != nil && root.ResponseCode != "":
		if r.IsApproval(root.ResponseCode) {
			t.Outcome = OutcomeApproved
		} else {
			t.Outcome = OutcomeDeclined
			r.setCause(&t, r.CauseOfCode(root.ResponseCode), "response_code", root.ResponseCode)
		}
	case root != nil && root.ErrorType != "":
		t.Outcome = OutcomeFailed
		r.setCause(&t, r.CauseOfErrorType(root.ErrorType), "error_type", root.ErrorType)
	default:
		t.Outcome = OutcomeFailed
		if et, ok := deepestFailure(root, facts, in.Links); ok {
			r.setCause(&t, r.CauseOfErrorType(et), "descendant_error_type", et)
		} else {
			r.setCause(&t, CauseUnknown, "default", "")
		}
	}
	if t.Outcome == OutcomeApproved && (t.TxnType == TxnTypeSale || t.TxnType == TxnTypeCompletion) {
		r.settle(&t, settle, in)
	}
	if !t.Outcome.HasCause() {
		t.Cause, t.Class, t.CauseSource, t.CauseCode = CauseNone, ClassNone, "", ""
	}
	return t
}

func (r *Rules) settle(t *Transaction, settle *Fact, in Input) {
	window := in.Window
	if window <= 0 {
		window = DefaultSettlementWindow
	}
	switch {
	case settle != nil && settle.SettlementStatus == SettlementSettled:
		t.Outcome = OutcomeSettled
	case settle != nil && settle.SettlementStatus == SettlementRejected:
		t.Outcome = OutcomeSettlementRejected
		switch {
		case settle.ResponseCode != "":
			r.setCause(t, r.CauseOfCode(settle.ResponseCode), "settlement_response_code", settle.ResponseCode)
		case settle.ErrorType != "":
			r.setCause(t, r.CauseOfErrorType(settle.ErrorType), "settlement_error_type", settle.ErrorType)
		default:
			r.setCause(t, CauseSettlement, "default", "")
		}
	case !in.AsOf.Before(time.Unix(0, t.TxnNs).Add(window)):
		t.Outcome = OutcomeUnsettled
		t.WindowPassed = true
		if b := latestClose(in.Batches, t.Dims.TerminalID, t.Dims.BatchNumber); b != nil && b.failed() && b.ErrorType != "" {
			r.setCause(t, r.CauseOfErrorType(b.ErrorType), "batch_close_error_type", b.ErrorType)
		} else {
			r.setCause(t, CauseSettlement, "default", "")
		}
	default:
		t.Outcome = OutcomePending
	}
}

func (r *Rules) setCause(t *Transaction, c Cause, source, code string) {
	t.Cause, t.Class, t.CauseSource, t.CauseCode = c, r.ClassOf(c), source, code
}

// sortedFacts orders facts by start time then span id so every choice below is
// deterministic whatever order the spans arrived in; duplicates (same span id,
// re-sent) are dropped. Facts already in that order (SortFacts) are read as
// they are, without a copy: Classify never writes to them.
func sortedFacts(in []Fact) []Fact {
	if inOrder(in) {
		return in
	}
	facts := make([]Fact, len(in))
	copy(facts, in)
	return SortFacts(facts)
}

// SortFacts puts facts, in place, in the order Classify reads them and drops
// the duplicates (a re-sent span) that order makes adjacent; it returns the
// shortened slice. Classify reads its result without copying it, which saves
// a caller that owns its facts (assembly) one copy of each.
func SortFacts(facts []Fact) []Fact {
	sortStable(facts)
	if len(facts) == 0 {
		return facts
	}
	// Facts move only once a duplicate has been dropped: each is large.
	n := 1
	for i := 1; i < len(facts); i++ {
		if sameSpan(&facts[n-1], &facts[i]) {
			continue
		}
		if n != i {
			facts[n] = facts[i]
		}
		n++
	}
	return facts[:n]
}

// sortStable sorts a transaction's handful of facts by insertion, in place:
// sort.SliceStable allocated a Fact-sized temporary and two closures per
// call, once for every transaction assembled. Long lists take the library.
func sortStable(facts []Fact) {
	if len(facts) > 16 {
		sort.SliceStable(facts, func(i, j int) bool { return factBefore(&facts[i], &facts[j]) })
		return
	}
	for i := 1; i < len(facts); i++ {
		for j := i; j > 0 && factBefore(&facts[j], &facts[j-1]); j-- {
			facts[j], facts[j-1] = facts[j-1], facts[j]
		}
	}
}

func factBefore(a, b *Fact) bool {
	if a.StartNs != b.StartNs {
		return a.StartNs < b.StartNs
	}
	if a.SpanID != b.SpanID {
		return a.SpanID < b.SpanID
	}
	return a.TraceID < b.TraceID
}

func sameSpan(a, b *Fact) bool { return a.SpanID == b.SpanID && a.TraceID == b.TraceID }

// inOrder reports whether facts are as SortFacts leaves them: no fact before
// its predecessor, and no two adjacent copies of a span.
func inOrder(facts []Fact) bool {
	for i := 1; i < len(facts); i++ {
		if factBefore(&facts[i], &facts[i-1]) || sameSpan(&facts[i], &facts[i-1]) {
			return false
		}
	}
	return true
}

// pickRoot chooses the pos.transaction span. Normally there is one; if a
// client sent several, the one with an answer wins, then the latest.
func pickRoot(facts []Fact) (*Fact, int) {
	var root *Fact
	n := 0
	for i := range facts {
		f := &facts[i]
		if f.Name != SpanTransaction {
			continue
		}
		n++
		if root == nil || (root.ResponseCode == "" && f.ResponseCode != "") ||
			((root.ResponseCode == "") == (f.ResponseCode == "") && f.StartNs >= root.StartNs) {
			root = f
		}
	}
	return root, n
}

// standInRoot picks a trace root (a span without parent) to play
// pos.transaction when no span has that name: one with an answer first, then
// the earliest. Settlement and batch spans never stand in; they are not the
// attempt.
func standInRoot(facts []Fact) *Fact {
	var root *Fact
	for i := range facts {
		f := &facts[i]
		if f.ParentSpanID != "" || f.Name == SpanSettlement || f.Name == SpanBatchClose || f.SettlementStatus != "" {
			continue
		}
		if root == nil || (root.ResponseCode == "" && f.ResponseCode != "") {
			root = f
		}
	}
	return root
}

// deepestFailure finds the error.type of the deepest failed descendant of the
// root, depth counted in parent links across services. Ties go to the span
// that ended last, then to the larger span id, so the answer is stable.
func deepestFailure(root *Fact, facts []Fact, links []SpanLink) (string, bool) {
	if root == nil {
		return "", false
	}
	parent := make(map[string]string, len(facts)+len(links))
	for _, l := range links {
		parent[l.SpanID] = l.ParentSpanID
	}
	for i := range facts {
		if facts[i].TraceID == root.TraceID {
			parent[facts[i].SpanID] = facts[i].ParentSpanID
		}
	}
	best, bestDepth := (*Fact)(nil), -1
	for i := range facts {
		f := &facts[i]
		if f == root || f.TraceID != root.TraceID || !f.failed() || f.ErrorType == "" {
			continue
		}
		d := depthBelow(f.SpanID, root.SpanID, parent)
		if d <= 0 {
			continue
		}
		if d > bestDepth || (d == bestDepth && laterEnd(f, best)) {
			best, bestDepth = f, d
		}
	}
	if best == nil {
		return "", false
	}
	return best.ErrorType, true
}

func laterEnd(a, b *Fact) bool {
	ea, eb := a.StartNs+a.DurationNs, b.StartNs+b.DurationNs
	if ea != eb {
		return ea > eb
	}
	return a.SpanID > b.SpanID
}

// depthBelow counts parent links from span up to root; -1 when span does not
// descend from root (or the chain is broken or cyclic).
func depthBelow(span, root string, parent map[string]string) int {
	d := 0
	for cur := span; d <= len(parent); d++ {
		if cur == root {
			return d
		}
		p, ok := parent[cur]
		if !ok || p == "" {
			return -1
		}
		cur = p
	}
	return -1
}

func latestClose(batches []BatchClose, terminal, batch string) *BatchClose {
	var best *BatchClose
	for i := range batches {
		b := &batches[i]
		if b.TerminalID != terminal || b.BatchNumber != batch || terminal == "" || batch == "" {
			continue
		}
		if best == nil || b.CloseNs > best.CloseNs || (b.CloseNs == best.CloseNs && b.SpanID > best.SpanID) {
			best = b
		}
	}
	return best
}

func addIssue(t *Transaction, issue string) {
	for _, i := range t.Issues {
		if i == issue {
			return
		}
	}
	t.Issues = append(t.Issues, issue)
}

func removeIssue(t *Transaction, issue string) {
	out := t.Issues[:0]
	for _, i := range t.Issues {
		if i != issue {
			out = append(out, i)
		}
	}
	t.Issues = out
}
