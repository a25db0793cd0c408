package clickhouseexporter

import (
	"sync"
	"time"
)

// columnSet is a batch's span and fact columns (the batch closes are a few
// rows and are not kept).
type columnSet struct {
	sp *spanCols
	fc *factCols
}

// columnIdle is how long a batch's columns are kept for the next batch
// once the traffic stops: then they are let go and the collector's memory
// shrinks back.
const columnIdle = 30 * time.Second

// columnPool keeps the columns of the last stored batch for the next one
// to fill again. Allocated anew per batch they were a fifth of the bytes
// the collector allocated under load, each batch's columns garbage while
// the next one's were built, which under the soft memory limit made the
// garbage collector run that much more often (docs/benchmarks.md,
// "Columns and assembly's memory reused"). A sync.Pool would not do: it
// is emptied by every collection, several a second under load.
//
// Only a batch that was stored and assembled is put back: its values are
// then no longer in use (the rows assembly wrote were sent, its facts
// cleared), while a batch waiting for a retry still holds its rows.
type columnPool struct {
	mu    sync.Mutex
	spare columnSet
	idle  *time.Timer
}

// get takes the spare columns, if any (the zero columnSet otherwise).
func (p *columnPool) get() columnSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.spare
	p.spare = columnSet{}
	return s
}

// put keeps s for the next batch, until columnIdle passes without one.
func (p *columnPool) put(s columnSet) {
	if s.sp == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spare = s
	if p.idle == nil {
		p.idle = time.AfterFunc(columnIdle, p.drop)
		return
	}
	p.idle.Reset(columnIdle)
}

func (p *columnPool) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spare = columnSet{}
}

// stop lets the spare go and stops its timer (shutdown).
func (p *columnPool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spare = columnSet{}
	if p.idle != nil {
		p.idle.Stop()
	}
}
