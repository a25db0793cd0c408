import { DataSourceInstanceSettings, ScopedVars } from '@grafana/data';

import { DataSource, expandValues, valuesFrame } from './datasource';
import { ALL_VALUE, SettlewatchOptions } from './types';

const variables: Record<string, { multi: boolean; current: { value: string | string[] } }> = {
  gateway: { multi: true, current: { value: ['gw-1', 'gw-2'] } },
  merchant: { multi: true, current: { value: [ALL_VALUE] } },
  region: { multi: false, current: { value: 'wuhan' } },
};

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    getVariables: () => Object.entries(variables).map(([name, v]) => ({ name, ...v })),
    replace: (target: string, scoped: ScopedVars = {}, format?: (v: string | string[]) => string) =>
      target.replace(/\$\{?(\w+)(?::\w+)?\}?/g, (m: string, name: string) => {
        const v = scoped[name]?.value ?? variables[name]?.current.value;
        if (v === undefined) {
          return m;
        }
        return format ? format(v) : Array.isArray(v) ? v.join(',') : String(v);
      }),
  }),
}));

const settings = { id: 1, uid: 'sw', name: 'settlewatch', type: 'settlewatch-settlement-datasource', jsonData: {}, meta: {} } as unknown as DataSourceInstanceSettings<SettlewatchOptions>;

describe('template variables and ad-hoc filters', () => {
  it('expands multi-value variables into values and All into the backend marker', () => {
    expect(expandValues(['$gateway', 'gw-3', 'gw-1'])).toEqual(['gw-1', 'gw-2', 'gw-3']);
    expect(expandValues(['${merchant}'])).toEqual([ALL_VALUE]);
    expect(expandValues(['$region'])).toEqual(['wuhan']);
    // A repeated panel's scoped value wins over "All".
    expect(expandValues(['$merchant'], { merchant: { text: 'M-1', value: 'M-1' } })).toEqual(['M-1']);
  });

  it('puts variables and ad-hoc filters into the query the backend (and alerting) reads', () => {
    const ds = new DataSource(settings);
    const q = ds.applyTemplateVariables(
      { refId: 'A', queryType: 'breakdown', filters: { gateway: ['$gateway'], merchant: ['$merchant'] }, causes: ['network'], currency: '$region' },
      {},
      [{ key: 'region', operator: '=', value: 'wuhan' }]
    );
    expect(q.filters).toEqual({ gateway: ['gw-1', 'gw-2'], merchant: [ALL_VALUE] });
    expect(q.causes).toEqual(['network']);
    expect(q.adhocFilters).toEqual([{ key: 'region', operator: '=', value: 'wuhan' }]);
    expect(q.currency).toBe('wuhan');
  });

  it('does not send a trace query without an id', () => {
    const ds = new DataSource(settings);
    expect(ds.filterQuery({ refId: 'A', queryType: 'trace' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', queryType: 'trace', txnId: 'T1' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: 'kpis', hide: true })).toBe(false);
  });

  it('supports annotations from incidents and variables', () => {
    const ds = new DataSource(settings);
    expect(ds.annotations?.getDefaultQuery?.()).toEqual({ queryType: 'incidents' });
    expect(ds.variables).toBeDefined();
    const f = valuesFrame([{ value: 'gw-1', text: 'gw-1' }]);
    expect(f.fields.map((x) => x.name)).toEqual(['text', 'value']);
    expect(f.fields[1].values).toEqual(['gw-1']);
  });
});
