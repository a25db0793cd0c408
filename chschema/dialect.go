package chschema

import (
	"errors"
	"fmt"

	"github.com/settlewatch/settlewatch/chconn"
)

// Dialect selects the DDL flavour.
type Dialect struct {
	// Modern servers (>= 20.x) get LowCardinality, CODECs, TTL and skip indexes.
	Modern bool
	// Cluster is the cluster name from remote_servers; "" means a single node.
	// With a cluster, data lives in ReplicatedReplacingMergeTree tables named
	// <t>_local behind Distributed tables named <t>, and all DDL runs ON CLUSTER.
	Cluster string
	// RetentionDays > 0 adds a TTL on modern servers. 18.16 has no TTL: old data
	// is removed there by dropping partitions.
	RetentionDays int
}

// DialectFor is the dialect for a server of version v.
func DialectFor(v chconn.Version, cluster string) Dialect {
	return Dialect{Modern: v.Major >= 20, Cluster: cluster}
}

// Validate checks that the dialect can be put into SQL.
func (d Dialect) Validate() error {
	var errs []error
	if d.Cluster != "" && !chconn.ValidIdent(d.Cluster) {
		errs = append(errs, fmt.Errorf("cluster name %q: must match ^[A-Za-z_][A-Za-z0-9_]*$", d.Cluster))
	}
	if d.RetentionDays < 0 {
		errs = append(errs, fmt.Errorf("retention days %d: must not be negative", d.RetentionDays))
	}
	return errors.Join(errs...)
}

// String describes d, e.g. "modern, cluster settlewatch, retention 90 days".
func (d Dialect) String() string {
	s := "portable (18.16+)"
	if d.Modern {
		s = "modern (20+)"
	}
	if d.Cluster != "" {
		s += ", cluster " + d.Cluster
	}
	if d.Modern && d.RetentionDays > 0 {
		s += fmt.Sprintf(", retention %d days", d.RetentionDays)
	}
	return s
}

func (d Dialect) onCluster() string {
	if d.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + d.Cluster
}

func checkDB(db string) error {
	if !chconn.ValidIdent(db) {
		return fmt.Errorf("database name %q: must match ^[A-Za-z_][A-Za-z0-9_]*$", db)
	}
	return nil
}

func check(db string, d Dialect) error {
	return errors.Join(checkDB(db), d.Validate())
}
