import {
  AdHocVariableFilter,
  CoreApp,
  CustomVariableSupport,
  DataFrame,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceGetTagKeysOptions,
  DataSourceGetTagValuesOptions,
  DataSourceInstanceSettings,
  FieldType,
  MetricFindValue,
  ScopedVars,
  TimeRange,
  createDataFrame,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { Observable, from, map } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import {
  ALL_VALUE,
  DEFAULT_QUERY,
  KeyValue,
  SettlewatchOptions,
  SettlewatchQuery,
  ValuesResponse,
  VariableQuery,
} from './types';

// Joins the values of a multi-value variable while interpolating; no value
// the backend accepts can contain it.
const SEP = '\u001f';
// A filter value that is exactly one variable reference: $name, ${name}, ${name:fmt}, [[name]].
const VAR_RE = /^\$(\w+)$|^\$\{(\w+)(?::[\w-]+)?\}$|^\[\[(\w+)(?::[\w-]+)?\]\]$/;

function allSelected(name: string): boolean {
  const v = getTemplateSrv()
    .getVariables()
    .find((x) => x.name === name) as unknown as { current?: { value?: string | string[] } } | undefined;
  const cur = v?.current?.value;
  return cur === ALL_VALUE || (Array.isArray(cur) && cur.includes(ALL_VALUE));
}

/**
 * Replaces template variables in filter values. A multi-value variable gives
 * one value per selection; "All" gives ALL_VALUE, which the backend reads as
 * "no filter" (instead of a list of every value).
 */
export function expandValues(values: string[] | undefined, scopedVars: ScopedVars = {}): string[] {
  const srv = getTemplateSrv();
  const out: string[] = [];
  for (const raw of values ?? []) {
    const m = VAR_RE.exec(raw.trim());
    const name = m ? (m[1] ?? m[2] ?? m[3]) : undefined;
    if (name && !scopedVars[name] && allSelected(name)) {
      if (!out.includes(ALL_VALUE)) {
        out.push(ALL_VALUE);
      }
      continue;
    }
    const replaced = srv.replace(raw, scopedVars, (v: string | string[]) => (Array.isArray(v) ? v.join(SEP) : String(v)));
    for (const part of replaced.split(SEP)) {
      const p = part.trim();
      if (p !== '' && !out.includes(p)) {
        out.push(p);
      }
    }
  }
  return out;
}

export class DataSource extends DataSourceWithBackend<SettlewatchQuery, SettlewatchOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<SettlewatchOptions>) {
    super(instanceSettings);
    // Incidents make annotations: the standard support runs the query in the
    // backend and reads the frame's time, timeEnd, title, text and tags.
    this.annotations = {
      getDefaultQuery: () => ({ queryType: 'incidents' }),
    };
    this.variables = new SettlewatchVariableSupport(this);
  }

  getDefaultQuery(_: CoreApp): Partial<SettlewatchQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: SettlewatchQuery): boolean {
    if (query.hide) {
      return false;
    }
    if (query.queryType === 'trace') {
      return Boolean(query.txnId || query.traceId);
    }
    return true;
  }

  /**
   * Template variables and the dashboard's ad-hoc filters go into the query
   * model itself; the backend applies them, so a query saved into an alert
   * rule keeps its filters.
   */
  applyTemplateVariables(query: SettlewatchQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): SettlewatchQuery {
    const srv = getTemplateSrv();
    const out: SettlewatchQuery = { ...query };
    if (query.filters) {
      const f: Record<string, string[]> = {};
      for (const [key, values] of Object.entries(query.filters)) {
        f[key] = expandValues(values, scopedVars);
      }
      out.filters = f;
    }
    if (query.causes) {
      out.causes = expandValues(query.causes, scopedVars);
    }
    if (query.outcomes) {
      out.outcomes = expandValues(query.outcomes, scopedVars);
    }
    for (const k of ['currency', 'txnId', 'traceId', 'incidentValue', 'by'] as const) {
      const v = query[k];
      if (typeof v === 'string' && v !== '') {
        (out as unknown as Record<string, string>)[k] = srv.replace(v, scopedVars);
      }
    }
    const adhoc = [...(query.adhocFilters ?? []), ...(filters ?? [])];
    if (adhoc.length > 0) {
      out.adhocFilters = adhoc.map((a) => ({
        key: a.key,
        operator: a.operator,
        value: a.value,
        ...(a.values ? { values: a.values } : {}),
      }));
    }
    return out;
  }

  /** The values of a key (a dimension, cause, outcome or currency) in a range. */
  async fetchValues(key: string, range?: TimeRange, prefix?: string, limit?: number): Promise<KeyValue[]> {
    const params: Record<string, string | number> = { key };
    if (range) {
      params.from = range.from.valueOf();
      params.to = range.to.valueOf();
    }
    if (prefix) {
      params.prefix = prefix;
    }
    if (limit) {
      params.limit = limit;
    }
    const res = await this.getResource<ValuesResponse>('values', params);
    return res.values ?? [];
  }

  async getTagKeys(_?: DataSourceGetTagKeysOptions<SettlewatchQuery>): Promise<MetricFindValue[]> {
    const keys = await this.getResource<Array<{ key: string; text: string }>>('keys');
    return keys.map((k) => ({ text: k.key, value: k.key }));
  }

  async getTagValues(options: DataSourceGetTagValuesOptions<SettlewatchQuery>): Promise<MetricFindValue[]> {
    const values = await this.fetchValues(options.key, options.timeRange);
    return values.map((v) => ({ text: v.text, value: v.value }));
  }
}

export function valuesFrame(values: KeyValue[]): DataFrame {
  return createDataFrame({
    fields: [
      { name: 'text', type: FieldType.string, values: values.map((v) => v.text) },
      { name: 'value', type: FieldType.string, values: values.map((v) => v.value) },
    ],
  });
}

/** Template variables: the values of a key within the dashboard's time range. */
export class SettlewatchVariableSupport extends CustomVariableSupport<DataSource, VariableQuery, SettlewatchQuery, SettlewatchOptions> {
  editor = VariableQueryEditor;

  constructor(private readonly ds: DataSource) {
    super();
  }

  query(request: DataQueryRequest<VariableQuery>): Observable<DataQueryResponse> {
    const q = request.targets[0];
    if (!q?.key) {
      return from(Promise.resolve({ data: [] }));
    }
    const prefix = q.prefix ? getTemplateSrv().replace(q.prefix, request.scopedVars) : undefined;
    return from(this.ds.fetchValues(q.key, request.range, prefix, q.limit)).pipe(map((values) => ({ data: [valuesFrame(values)] })));
  }
}
