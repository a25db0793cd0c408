package chschema

import (
	"fmt"
	"strings"
)

// Column is one column of a table.
type Column struct {
	Name string
	// Type is the portable ClickHouse type; empty for a Nested column.
	Type string
	// LowCard marks a String column that is LowCardinality(String) on modern
	// servers. 18.16 only has it behind an experimental setting, so there it
	// stays a plain String (same values, same inserts).
	LowCard bool
	// Codec is the modern-only compression codec, e.g. "ZSTD(1)".
	Codec string
	// Fields are the sub-columns of a Nested column. They are inserted as
	// arrays named `<Name>.<field>`.
	Fields []Column
	// Since is the migration that added the column to an existing table (0:
	// there from the table's creation). A table's creating migration renders
	// only the columns it had, so its checksum stays the one recorded on
	// databases created before; the later migration adds the rest.
	Since uint32
}

// Index is a modern-only data-skipping index.
type Index struct {
	Name, Expr, Type string
	Granularity      int
}

// Table describes one table. Treat the exported values as read-only.
type Table struct {
	Name        string
	ColumnDefs  []Column
	Version     string // ReplacingMergeTree version column
	PartitionBy string // expression, "" for none
	OrderBy     string // expression, e.g. "(trace_id, span_id)"
	TTLColumn   string // DateTime expression that TTL counts from, "" for none
	// KeepDays > 0 makes the table keep only that many days counted from
	// TTLColumn, whatever the retention: a TTL on modern servers, dropped
	// partitions on 18.16 (RecentFacts).
	KeepDays int
	Indexes  []Index
	// ShardKey is the Distributed sharding expression. It is a function of the
	// ORDER BY key so that a row sent twice lands on the same shard, where
	// ReplacingMergeTree can collapse it.
	ShardKey string
	// Everywhere marks a table that, in cluster mode, is one replicated table
	// holding the same rows on every node (no Distributed table in front).
	Everywhere bool
	// Sum, when set, makes the table a SummingMergeTree of that column
	// instead of a ReplacingMergeTree of Version (RecentFactCounts).
	Sum string
	// Null makes the table a Null engine: it stores nothing, and exists for
	// the materialized views that read its inserts (Transactions).
	Null bool
	// IndexGranularity is rows per granule; 0 is ClickHouse's 8192.
	IndexGranularity int
}

// Columns are the names to insert into, in order, with Nested columns
// expanded to their arrays ("attributes.key", "attributes.value").
func (t Table) Columns() []string {
	var out []string
	for _, c := range t.ColumnDefs {
		if c.Fields == nil {
			out = append(out, c.Name)
			continue
		}
		for _, f := range c.Fields {
			out = append(out, c.Name+"."+f.Name)
		}
	}
	return out
}

// InsertSQL is the statement for conn.PrepareBatch, always with the full
// column list: without one, clickhouse-go can store zero rows on 18.16 and
// report no error. Append values in Columns() order. db should have been
// validated (chconn.Settings.Validate does); it is quoted regardless so that
// no name can change the statement.
func (t Table) InsertSQL(db string) string {
	cols := t.Columns()
	for i, c := range cols {
		cols[i] = quote(c)
	}
	return fmt.Sprintf("INSERT INTO %s.%s (%s)", quote(db), quote(t.Name), strings.Join(cols, ", "))
}

// quote backquotes an identifier, escaping what could end it.
func quote(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

// LocalName is the name of the table that stores the rows: <t>_local behind a
// Distributed table in cluster mode, else the table itself.
func (t Table) LocalName(d Dialect) string {
	if d.Cluster != "" && !t.Everywhere {
		return t.Name + "_local"
	}
	return t.Name
}

// CreateSQL returns the CREATE TABLE IF NOT EXISTS statements of t for d: one
// statement, or in cluster mode the local table and the Distributed table.
func (t Table) CreateSQL(db string, d Dialect) ([]string, error) {
	if err := check(db, d); err != nil {
		return nil, fmt.Errorf("create table %s: %w", t.Name, err)
	}
	return t.createSQL(db, d), nil
}

func (t Table) createSQL(db string, d Dialect) []string {
	return t.createSQLAt(db, d, 0)
}

// createSQLAt renders t as migration `at` creates it: without the columns a
// later migration adds (at 0: every column).
func (t Table) createSQLAt(db string, d Dialect, at uint32) []string {
	local := t.LocalName(d)
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s%s\n(\n", db, local, d.onCluster())
	var lines []string
	for _, c := range t.ColumnDefs {
		if t.Null {
			c.Codec = "" // nothing is stored to compress
		}
		if at == 0 || c.Since <= at {
			lines = append(lines, c.ddl(d)...)
		}
	}
	if d.Modern {
		for _, ix := range t.Indexes {
			lines = append(lines, fmt.Sprintf("INDEX %s %s TYPE %s GRANULARITY %d", ix.Name, ix.Expr, ix.Type, ix.Granularity))
		}
	}
	b.WriteString("    " + strings.Join(lines, ",\n    ") + "\n)\n")
	if t.Null {
		b.WriteString("ENGINE = Null")
		return t.withDistributed(db, d, b.String())
	}
	fmt.Fprintf(&b, "ENGINE = %s\n", t.engine(db, d))
	if t.PartitionBy != "" {
		fmt.Fprintf(&b, "PARTITION BY %s\n", t.PartitionBy)
	}
	fmt.Fprintf(&b, "ORDER BY %s\n", t.OrderBy)
	switch {
	case d.Modern && t.KeepDays > 0:
		fmt.Fprintf(&b, "TTL %s + INTERVAL %d DAY\n", t.TTLColumn, t.KeepDays)
	case d.Modern && d.RetentionDays > 0 && t.TTLColumn != "":
		fmt.Fprintf(&b, "TTL %s + INTERVAL %d DAY\n", t.TTLColumn, d.RetentionDays)
	}
	granularity := t.IndexGranularity
	if granularity == 0 {
		granularity = 8192
	}
	fmt.Fprintf(&b, "SETTINGS index_granularity = %d", granularity)
	return t.withDistributed(db, d, b.String())
}

// withDistributed follows the statement creating t's local table with the
// Distributed table in front of it, in cluster mode.
func (t Table) withDistributed(db string, d Dialect, create string) []string {
	out := []string{create}
	if local := t.LocalName(d); local != t.Name {
		out = append(out, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s.%s\nENGINE = Distributed(%s, %s, %s, %s)",
			db, t.Name, d.onCluster(), db, local, d.Cluster, db, local, t.ShardKey))
	}
	return out
}

func (t Table) engine(db string, d Dialect) string {
	kind, arg := "Replacing", t.Version
	if t.Sum != "" {
		kind, arg = "Summing", t.Sum
	}
	if d.Cluster == "" {
		return fmt.Sprintf("%sMergeTree(%s)", kind, arg)
	}
	// {shard} and {replica} are macros of each server's config. A table held by
	// every node uses one fixed shard name so that all nodes replicate it.
	shard := "{shard}"
	if t.Everywhere {
		shard = "all"
	}
	return fmt.Sprintf("Replicated%sMergeTree('/clickhouse/tables/%s/%s/%s', '{replica}', %s)", kind, shard, db, t.Name, arg)
}

// ddl renders the column declaration(s) of c.
func (c Column) ddl(d Dialect) []string {
	if c.Fields == nil {
		return []string{c.Name + " " + c.typeFor(d) + c.codecFor(d)}
	}
	if !d.Modern {
		var fs []string
		for _, f := range c.Fields {
			fs = append(fs, f.Name+" "+f.Type)
		}
		return []string{fmt.Sprintf("%s Nested(%s)", c.Name, strings.Join(fs, ", "))}
	}
	// Modern servers flatten Nested into arrays named <c>.<field> anyway
	// (flatten_nested=1, and SHOW CREATE shows them so); declaring the arrays
	// directly is the same table and lets each array carry a codec.
	var out []string
	for _, f := range c.Fields {
		out = append(out, fmt.Sprintf("`%s.%s` Array(%s)%s", c.Name, f.Name, f.Type, c.codecFor(d)))
	}
	return out
}

func (c Column) typeFor(d Dialect) string {
	if c.LowCard && d.Modern {
		return "LowCardinality(" + c.Type + ")"
	}
	return c.Type
}

func (c Column) codecFor(d Dialect) string {
	if c.Codec == "" || !d.Modern {
		return ""
	}
	return " CODEC(" + c.Codec + ")"
}
