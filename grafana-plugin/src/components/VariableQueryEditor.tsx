import React, { useEffect, useState } from 'react';
import { QueryEditorProps } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { FILTER_KEYS, SettlewatchOptions, SettlewatchQuery, VariableQuery } from '../types';

type Props = QueryEditorProps<DataSource, SettlewatchQuery, SettlewatchOptions, VariableQuery>;

/**
 * A template variable lists the values of one key (a dimension, cause,
 * outcome or currency) seen in the dashboard's time range: bounded (limit,
 * at most 1000) and cached by the backend for a minute.
 */
export function VariableQueryEditor({ query, onChange }: Props) {
  const [prefix, setPrefix] = useState(query.prefix ?? '');
  const [limit, setLimit] = useState(query.limit ? String(query.limit) : '');
  useEffect(() => setPrefix(query.prefix ?? ''), [query.prefix]);

  const update = (patch: Partial<VariableQuery>) => onChange({ ...query, refId: query.refId ?? 'variable', ...patch });

  return (
    <InlineFieldRow>
      <InlineField label="Values of" labelWidth={14} tooltip="Values seen in the dashboard's time range">
        <Select
          aria-label="Values of"
          width={24}
          options={FILTER_KEYS.map((k) => ({ value: k, label: k.replace(/_/g, ' ') }))}
          value={query.key ?? null}
          placeholder="gateway, merchant, …"
          onChange={(v) => update({ key: v.value! })}
        />
      </InlineField>
      <InlineField label="Starting with" labelWidth={16}>
        <Input
          aria-label="Starting with"
          width={20}
          value={prefix}
          onChange={(e) => setPrefix(e.currentTarget.value)}
          onBlur={() => update({ prefix: prefix.trim() || undefined })}
        />
      </InlineField>
      <InlineField label="Limit" labelWidth={8} tooltip="At most 1000">
        <Input
          aria-label="Limit"
          type="number"
          width={10}
          value={limit}
          placeholder="500"
          onChange={(e) => setLimit(e.currentTarget.value)}
          onBlur={() => {
            const n = parseInt(limit, 10);
            update({ limit: Number.isFinite(n) && n > 0 ? Math.min(n, 1000) : undefined });
          }}
        />
      </InlineField>
    </InlineFieldRow>
  );
}
