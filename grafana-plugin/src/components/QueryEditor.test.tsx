import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import { QueryEditor } from './QueryEditor';
import type { DataSource } from '../datasource';
import { SettlewatchQuery } from '../types';

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({ getVariables: () => [{ name: 'gateway' }], replace: (s: string) => s }),
}));

const datasource = { fetchValues: jest.fn().mockResolvedValue([{ value: 'gw-1', text: 'gw-1' }]) } as unknown as DataSource;

function setup(query: Partial<SettlewatchQuery>) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<QueryEditor datasource={datasource} query={{ refId: 'A', ...query }} onChange={onChange} onRunQuery={onRunQuery} />);
  return { onChange, onRunQuery };
}

describe('QueryEditor', () => {
  it('renders the breakdown options by default', () => {
    setup({});
    expect(screen.getByText('Failures by cause')).toBeInTheDocument();
    expect(screen.getByLabelText('By')).toBeInTheDocument();
    expect(screen.getByLabelText('Causes')).toBeInTheDocument();
  });

  it('switches the query type and runs the query', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'breakdown' });
    fireEvent.click(screen.getByText('Trend'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ refId: 'A', queryType: 'trend' }));
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('switches a breakdown to outcomes', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'breakdown' });
    fireEvent.click(screen.getByText('Transactions by outcome'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ of: 'outcome' }));
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('sets the trend interval', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'trend' });
    expect(screen.getByLabelText('Series per')).toBeInTheDocument();
    fireEvent.click(screen.getByText('1h'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ queryType: 'trend', interval: '1h' }));
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('takes a transaction id for a trace on blur, and runs it', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'trace' });
    const input = screen.getByLabelText('Transaction id');
    fireEvent.change(input, { target: { value: ' 42788908D261103T00014701415 ' } });
    expect(onChange).not.toHaveBeenCalled();
    fireEvent.blur(input);
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ queryType: 'trace', txnId: '42788908D261103T00014701415' }));
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    // A trace has no filters.
    expect(screen.queryByLabelText('Causes')).not.toBeInTheDocument();
  });

  it('lists unsettled transactions', () => {
    const { onChange } = setup({ queryType: 'transactions' });
    fireEvent.click(screen.getByText('unsettled'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ status: 'unsettled' }));
  });

  it('turns on open-only incidents', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'incidents' });
    fireEvent.click(screen.getByLabelText('Open only'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ openOnly: true }));
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('edits the currency filter and removes a dimension filter', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'kpis', filters: { gateway: ['$gateway'] } });
    const cur = screen.getByLabelText('Currency');
    fireEvent.change(cur, { target: { value: 'cny' } });
    fireEvent.blur(cur);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ currency: 'CNY' }));
    fireEvent.click(screen.getByLabelText('Remove filter gateway'));
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ filters: {} }));
    expect(onRunQuery).toHaveBeenCalledTimes(2);
  });
});
