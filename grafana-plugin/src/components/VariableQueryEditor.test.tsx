import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import { VariableQueryEditor } from './VariableQueryEditor';
import type { DataSource } from '../datasource';

describe('VariableQueryEditor', () => {
  it('renders and changes the prefix and limit', () => {
    const onChange = jest.fn();
    render(
      <VariableQueryEditor
        datasource={{} as DataSource}
        query={{ refId: 'V', key: 'gateway' }}
        onChange={onChange}
        onRunQuery={jest.fn()}
      />
    );
    expect(screen.getByText('gateway')).toBeInTheDocument();
    const prefix = screen.getByLabelText('Starting with');
    fireEvent.change(prefix, { target: { value: 'gw-' } });
    fireEvent.blur(prefix);
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'V', key: 'gateway', prefix: 'gw-' });
    const limit = screen.getByLabelText('Limit');
    fireEvent.change(limit, { target: { value: '5000' } });
    fireEvent.blur(limit);
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ key: 'gateway', limit: 1000 }));
  });
});
