import { DataQuery, DataSourceJsonData } from '@grafana/data';

/** The query types the backend answers (plugin.QueryTypes). */
export type QueryType = 'breakdown' | 'trend' | 'transactions' | 'trace' | 'incidents' | 'unsettled_aging' | 'kpis';

export interface AdhocFilter {
  key: string;
  operator: string;
  value: string;
  values?: string[];
}

/**
 * The typed query model. It is read by the Go backend only (never turned into
 * SQL here), so alert rules and dashboards get the same answer.
 */
export interface SettlewatchQuery extends DataQuery {
  queryType?: QueryType;
  /** breakdown: cause (failures by cause) or outcome (all transactions by outcome) */
  of?: 'cause' | 'outcome';
  /** breakdown: a dimension; trend: 'cause' or a dimension */
  by?: string;
  metric?: string;
  /** auto, 5m, 1h, 1d */
  interval?: string;
  baselineWeeks?: number;
  source?: 'auto' | 'rollup' | 'raw';
  /** dimension (or cause, outcome, currency) → allowed values; template variables allowed */
  filters?: Record<string, string[]>;
  causes?: string[];
  outcomes?: string[];
  currency?: string;
  /** the dashboard's ad-hoc filters, copied in by applyTemplateVariables */
  adhocFilters?: AdhocFilter[];
  status?: string;
  txnId?: string;
  traceId?: string;
  openOnly?: boolean;
  incidentDimension?: string;
  incidentValue?: string;
  kpis?: string[];
  limit?: number;
}

export const DEFAULT_QUERY: Partial<SettlewatchQuery> = {
  queryType: 'breakdown',
  of: 'cause',
  source: 'auto',
};

/** jsonData of the data source (the password lives in secureJsonData). */
export interface SettlewatchOptions extends DataSourceJsonData {
  host?: string;
  port?: number;
  database?: string;
  username?: string;
  secure?: boolean;
  tlsSkipVerify?: boolean;
  dialTimeoutSeconds?: number;
  queryTimeoutSeconds?: number;
  maxRows?: number;
  maxOpenConns?: number;
  compression?: 'lz4' | 'zstd' | 'none';
  rollupStaleMinutes?: number;
}

export interface SettlewatchSecureOptions {
  password?: string;
}

/** A template variable's query: the values of one key in the dashboard's range. */
export interface VariableQuery extends DataQuery {
  key: string;
  prefix?: string;
  limit?: number;
}

export interface KeyValue {
  value: string;
  text: string;
  transactions?: number;
}

export interface ValuesResponse {
  key: string;
  values: KeyValue[];
  truncated: boolean;
  cached: boolean;
}

// Vocabulary of the backend (analytics/model, domain). The backend validates
// everything again; these only fill the editors' pickers. A Go test keeps
// them equal to the backend's lists.
export const DIMENSIONS = [
  'gateway',
  'merchant',
  'terminal',
  'region',
  'acquirer',
  'issuer',
  'card_scheme',
  'funding',
  'entry_mode',
  'response_code',
];
export const CAUSES = [
  'network',
  'timeout',
  'gateway',
  'system',
  'account',
  'authorization',
  'operator',
  'limit',
  'bank_policy',
  'card',
  'settlement',
  'unknown',
];
export const OUTCOMES = ['approved', 'declined', 'failed', 'pending', 'settled', 'settlement_rejected', 'unsettled'];
export const QUERY_TYPES: QueryType[] = [
  'breakdown',
  'trend',
  'transactions',
  'trace',
  'incidents',
  'unsettled_aging',
  'kpis',
];
export const CAUSE_METRICS = ['failures', 'failure_rate', 'baseline', 'change'];
export const VALUE_METRICS = ['failures', 'failure_rate', 'transactions', 'p50_ms', 'p90_ms', 'p99_ms'];
export const TXN_STATUSES = ['failures', 'failed', 'declined', 'settlement_rejected', 'unsettled'];
export const KPIS = ['failure_rate', 'top_cause', 'unsettled', 'open_incidents'];
export const FILTER_KEYS = [...DIMENSIONS, 'cause', 'outcome', 'currency'];

/** Grafana's "All" of a multi-value variable, passed to the backend as "no filter". */
export const ALL_VALUE = '$__all';
