// Package backup holds the ClickHouse backup and restore scripts of
// settlewatch (backup.sh, restore.sh; see README.md) and, in its test, their
// end-to-end check: back up a private ClickHouse server loaded with synthetic
// transactions, restore into a fresh one, and compare row counts and
// analytics answers.
package backup
