import React, { useEffect, useMemo, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import {
  Button,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  Input,
  MultiSelect,
  RadioButtonGroup,
  Select,
  Stack,
} from '@grafana/ui';

import type { DataSource } from '../datasource';
import {
  CAUSE_METRICS,
  CAUSES,
  DEFAULT_QUERY,
  DIMENSIONS,
  FILTER_KEYS,
  KPIS,
  OUTCOMES,
  QueryType,
  SettlewatchOptions,
  SettlewatchQuery,
  TXN_STATUSES,
  VALUE_METRICS,
} from '../types';

type Props = QueryEditorProps<DataSource, SettlewatchQuery, SettlewatchOptions>;

const TYPE_LABELS: Record<QueryType, string> = {
  breakdown: 'Breakdown',
  trend: 'Trend',
  transactions: 'Transactions',
  trace: 'Trace',
  incidents: 'Incidents',
  unsettled_aging: 'Unsettled aging',
  kpis: 'KPIs',
};

const TYPE_HELP: Record<QueryType, string> = {
  breakdown: 'Failures by cause (or transactions by outcome), optionally per value of a dimension: table, bar gauge, pie chart, alerts.',
  trend: 'Time series per cause or per dimension value; the interval follows the panel (5m, 1h, 1d); long ranges read rollups.',
  transactions: 'Failed, declined or unsettled transactions, each linked to its trace.',
  trace: 'One transaction as a trace: terminal, gateway and settlement spans, with the outcome and cause on the root.',
  incidents: 'Incidents open in the range; also an annotation source.',
  unsettled_aging: 'Unsettled money by age bucket and cause.',
  kpis: 'Failure rate, top cause, unsettled money and open incidents for stat panels and alerts.',
};

const opts = (values: string[], label?: (v: string) => string): Array<SelectableValue<string>> =>
  values.map((v) => ({ value: v, label: label ? label(v) : v }));

const nice = (v: string) => v.replace(/_/g, ' ');

const INTERVALS = [
  { value: 'auto', label: 'auto' },
  { value: '5m', label: '5m' },
  { value: '1h', label: '1h' },
  { value: '1d', label: '1d' },
];
const SOURCES = [
  { value: 'auto', label: 'auto', description: 'rollups when they cover the range, else raw tables' },
  { value: 'rollup', label: 'rollups' },
  { value: 'raw', label: 'raw' },
];

/** The names of the dashboard's template variables, offered as filter values. */
function variableOptions(): Array<SelectableValue<string>> {
  try {
    return getTemplateSrv()
      .getVariables()
      .map((v) => ({ value: '$' + v.name, label: '$' + v.name }));
  } catch {
    return [];
  }
}

export function QueryEditor({ query, onChange, onRunQuery, datasource, range }: Props) {
  const q: SettlewatchQuery = { ...DEFAULT_QUERY, ...query };
  const type = (q.queryType ?? 'breakdown') as QueryType;

  // Select-like controls run the query at once; text inputs on blur.
  const set = (patch: Partial<SettlewatchQuery>, runNow = true) => {
    onChange({ ...query, ...patch });
    if (runNow) {
      onRunQuery();
    }
  };

  return (
    <Stack direction="column" gap={1}>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={16} tooltip={TYPE_HELP[type]}>
          <RadioButtonGroup<QueryType>
            aria-label="Query type"
            options={(Object.keys(TYPE_LABELS) as QueryType[]).map((t) => ({ value: t, label: TYPE_LABELS[t], description: TYPE_HELP[t] }))}
            value={type}
            onChange={(v) => set({ queryType: v, metric: undefined, by: undefined })}
          />
        </InlineField>
      </InlineFieldRow>

      {type === 'breakdown' && (
        <InlineFieldRow>
          <InlineField label="Of" labelWidth={16}>
            <RadioButtonGroup
              aria-label="Of"
              options={[
                { value: 'cause', label: 'Failures by cause' },
                { value: 'outcome', label: 'Transactions by outcome' },
              ]}
              value={q.of ?? 'cause'}
              onChange={(v) => set({ of: v as 'cause' | 'outcome' })}
            />
          </InlineField>
          <InlineField label="By" labelWidth={8} tooltip="One row per value of this dimension">
            <Select
              aria-label="By"
              width={20}
              isClearable
              placeholder="(none)"
              options={opts(DIMENSIONS, nice)}
              value={q.by ?? null}
              onChange={(v) => set({ by: v?.value })}
            />
          </InlineField>
          <SourceField q={q} set={set} />
        </InlineFieldRow>
      )}

      {type === 'trend' && <TrendOptions q={q} set={set} />}

      {type === 'transactions' && (
        <InlineFieldRow>
          <InlineField label="Status" labelWidth={16}>
            <RadioButtonGroup
              aria-label="Status"
              options={opts(TXN_STATUSES, nice)}
              value={q.status ?? 'failures'}
              onChange={(v) => set({ status: v })}
            />
          </InlineField>
          <LimitField q={q} set={set} />
        </InlineFieldRow>
      )}

      {type === 'trace' && <TraceOptions q={q} set={set} />}

      {type === 'incidents' && (
        <InlineFieldRow>
          <InlineField label="Open only" labelWidth={16}>
            <InlineSwitch aria-label="Open only" value={Boolean(q.openOnly)} onChange={(e) => set({ openOnly: e.currentTarget.checked })} />
          </InlineField>
          <InlineField label="Slice" labelWidth={10} tooltip="Only incidents of this dimension (all: the totals)">
            <Select
              aria-label="Incident dimension"
              width={20}
              isClearable
              placeholder="any"
              options={[{ value: 'all', label: 'all (totals)' }, ...opts(DIMENSIONS, nice)]}
              value={q.incidentDimension ?? null}
              onChange={(v) => set({ incidentDimension: v?.value, incidentValue: v?.value ? q.incidentValue : undefined })}
            />
          </InlineField>
          {q.incidentDimension && q.incidentDimension !== 'all' && (
            <TextField label="Value" value={q.incidentValue} onCommit={(v) => set({ incidentValue: v || undefined })} />
          )}
          <LimitField q={q} set={set} />
        </InlineFieldRow>
      )}

      {type === 'kpis' && (
        <InlineFieldRow>
          <InlineField label="KPIs" labelWidth={16} tooltip="Leave empty for all">
            <MultiSelect
              aria-label="KPIs"
              width={60}
              placeholder="all"
              options={opts(KPIS, nice)}
              value={q.kpis ?? []}
              onChange={(v) => set({ kpis: v.map((x) => x.value!).filter(Boolean) })}
            />
          </InlineField>
          <SourceField q={q} set={set} />
        </InlineFieldRow>
      )}

      {type !== 'trace' && <FilterOptions q={q} set={set} datasource={datasource} range={range} />}
    </Stack>
  );
}

type SetFn = (patch: Partial<SettlewatchQuery>, runNow?: boolean) => void;

function SourceField({ q, set }: { q: SettlewatchQuery; set: SetFn }) {
  return (
    <InlineField label="Source" labelWidth={10} tooltip="auto reads rollups when they cover the range (same numbers, faster)">
      <Select aria-label="Source" width={14} options={SOURCES} value={q.source ?? 'auto'} onChange={(v) => set({ source: v.value as SettlewatchQuery['source'] })} />
    </InlineField>
  );
}

function LimitField({ q, set }: { q: SettlewatchQuery; set: SetFn }) {
  return (
    <TextField
      label="Limit"
      width={10}
      value={q.limit ? String(q.limit) : ''}
      placeholder="row cap"
      onCommit={(v) => {
        const n = parseInt(v, 10);
        set({ limit: Number.isFinite(n) && n > 0 ? n : undefined });
      }}
    />
  );
}

function TextField(props: { label: string; value?: string; placeholder?: string; width?: number; tooltip?: string; onCommit: (v: string) => void }) {
  const [text, setText] = useState(props.value ?? '');
  useEffect(() => setText(props.value ?? ''), [props.value]);
  return (
    <InlineField label={props.label} labelWidth={Math.max(8, props.label.length + 2)} tooltip={props.tooltip}>
      <Input
        aria-label={props.label}
        width={props.width ?? 30}
        value={text}
        placeholder={props.placeholder}
        onChange={(e) => setText(e.currentTarget.value)}
        onBlur={() => props.onCommit(text.trim())}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            props.onCommit(text.trim());
          }
        }}
      />
    </InlineField>
  );
}

function TrendOptions({ q, set }: { q: SettlewatchQuery; set: SetFn }) {
  const by = q.by ?? 'cause';
  const metrics = by === 'cause' ? CAUSE_METRICS : VALUE_METRICS;
  return (
    <InlineFieldRow>
      <InlineField label="Series per" labelWidth={16}>
        <Select
          aria-label="Series per"
          width={20}
          options={[{ value: 'cause', label: 'cause' }, ...opts(DIMENSIONS, nice)]}
          value={by}
          onChange={(v) => set({ by: v.value, metric: undefined })}
        />
      </InlineField>
      <InlineField label="Metric" labelWidth={10}>
        <Select
          aria-label="Metric"
          width={20}
          options={opts(metrics, nice)}
          value={q.metric && metrics.includes(q.metric) ? q.metric : 'failures'}
          onChange={(v) => set({ metric: v.value })}
        />
      </InlineField>
      <InlineField label="Interval" labelWidth={10} tooltip="auto follows the panel's interval and max data points">
        <RadioButtonGroup aria-label="Interval" options={INTERVALS} value={q.interval ?? 'auto'} onChange={(v) => set({ interval: v })} />
      </InlineField>
      <SourceField q={q} set={set} />
    </InlineFieldRow>
  );
}

function TraceOptions({ q, set }: { q: SettlewatchQuery; set: SetFn }) {
  return (
    <InlineFieldRow>
      <TextField
        label="Transaction id"
        tooltip="pos.txn.id; template variables allowed"
        value={q.txnId}
        placeholder="e.g. 42788908D261103T00014701415"
        width={40}
        onCommit={(v) => set({ txnId: v || undefined, traceId: v ? undefined : q.traceId })}
      />
      <TextField
        label="or trace id"
        value={q.traceId}
        placeholder="32 hex digits"
        width={40}
        onCommit={(v) => set({ traceId: v || undefined, txnId: v ? undefined : q.txnId })}
      />
    </InlineFieldRow>
  );
}

function FilterOptions({ q, set, datasource, range }: { q: SettlewatchQuery; set: SetFn; datasource: DataSource; range?: Props['range'] }) {
  const filters = q.filters ?? {};
  const keys = Object.keys(filters);
  const vars = useMemo(variableOptions, []);
  const [loaded, setLoaded] = useState<Record<string, Array<SelectableValue<string>>>>({});

  const load = (key: string) => {
    if (key === 'cause' || key === 'outcome' || loaded[key]) {
      return;
    }
    datasource
      .fetchValues(key, range)
      .then((values) => setLoaded((l) => ({ ...l, [key]: values.map((v) => ({ value: v.value, label: v.text })) })))
      .catch(() => setLoaded((l) => ({ ...l, [key]: [] })));
  };
  const valueOptions = (key: string) => {
    if (key === 'cause') {
      return [...opts(CAUSES), ...vars];
    }
    if (key === 'outcome') {
      return [...opts(OUTCOMES), ...vars];
    }
    return [...(loaded[key] ?? []), ...vars];
  };
  const setFilter = (key: string, values: string[] | undefined) => {
    const next = { ...filters };
    if (values === undefined) {
      delete next[key];
    } else {
      next[key] = values;
    }
    set({ filters: next });
  };

  return (
    <Stack direction="column" gap={0}>
      <InlineFieldRow>
        <InlineField label="Causes" labelWidth={16} tooltip="Only these failure causes">
          <MultiSelect
            aria-label="Causes"
            width={50}
            placeholder="all"
            options={[...opts(CAUSES, nice), ...vars]}
            value={q.causes ?? []}
            allowCustomValue
            onChange={(v) => set({ causes: v.map((x) => x.value!).filter(Boolean) })}
          />
        </InlineField>
        <InlineField label="Outcomes" labelWidth={12}>
          <MultiSelect
            aria-label="Outcomes"
            width={40}
            placeholder="all"
            options={[...opts(OUTCOMES, nice), ...vars]}
            value={q.outcomes ?? []}
            allowCustomValue
            onChange={(v) => set({ outcomes: v.map((x) => x.value!).filter(Boolean) })}
          />
        </InlineField>
        <TextField label="Currency" width={10} value={q.currency} placeholder="any" onCommit={(v) => set({ currency: v ? v.toUpperCase() : undefined })} />
      </InlineFieldRow>
      {keys.map((key) => (
        <InlineFieldRow key={key}>
          <InlineField label={nice(key)} labelWidth={16}>
            <MultiSelect
              aria-label={`Filter ${key}`}
              width={60}
              options={valueOptions(key)}
              value={filters[key]}
              allowCustomValue
              onOpenMenu={() => load(key)}
              onChange={(v) => setFilter(key, v.map((x) => x.value!).filter((x) => x !== undefined))}
            />
          </InlineField>
          <Button aria-label={`Remove filter ${key}`} icon="trash-alt" variant="secondary" fill="text" onClick={() => setFilter(key, undefined)} />
        </InlineFieldRow>
      ))}
      <InlineFieldRow>
        <InlineField label="Add filter" labelWidth={16} tooltip="Filter on any dimension; values may be template variables">
          <Select
            aria-label="Add filter"
            width={30}
            placeholder="dimension…"
            options={opts(
              FILTER_KEYS.filter((k) => !keys.includes(k) && k !== 'cause' && k !== 'outcome' && k !== 'currency'),
              nice
            )}
            value={null}
            onChange={(v) => v?.value && set({ filters: { ...filters, [v.value]: [] } }, false)}
          />
        </InlineField>
      </InlineFieldRow>
    </Stack>
  );
}
