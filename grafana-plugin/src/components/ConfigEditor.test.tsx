import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { DataSourceSettings } from '@grafana/data';

import { ConfigEditor } from './ConfigEditor';
import { SettlewatchOptions, SettlewatchSecureOptions } from '../types';

function options(over: Partial<DataSourceSettings<SettlewatchOptions, SettlewatchSecureOptions>> = {}) {
  return {
    id: 1,
    uid: 'sw',
    orgId: 1,
    name: 'settlewatch',
    type: 'settlewatch-settlement-datasource',
    typeName: 'settlewatch',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: { host: 'ch.internal', port: 9000 },
    secureJsonFields: {},
    ...over,
  } as DataSourceSettings<SettlewatchOptions, SettlewatchSecureOptions>;
}

describe('ConfigEditor', () => {
  it('renders the connection settings', () => {
    render(<ConfigEditor options={options()} onOptionsChange={jest.fn()} />);
    expect(screen.getByLabelText('Host')).toHaveValue('ch.internal');
    expect(screen.getByLabelText('Port')).toHaveValue(9000);
    expect(screen.getByLabelText('Row cap')).toBeInTheDocument();
  });

  it('keeps the password in secureJsonData, never in jsonData', () => {
    const onOptionsChange = jest.fn();
    // An older editor (or a hand-edited provisioning file) left one in jsonData.
    const opts = options({ jsonData: { host: 'ch.internal', password: 'leaked' } as SettlewatchOptions });
    render(<ConfigEditor options={opts} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 's3cret' } });
    const saved = onOptionsChange.mock.calls[0][0];
    expect(saved.secureJsonData).toEqual({ password: 's3cret' });
    expect(saved.jsonData).not.toHaveProperty('password');
    expect(JSON.stringify(saved.jsonData)).not.toContain('s3cret');
  });

  it('resets a configured password', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={options({ secureJsonFields: { password: true } })} onOptionsChange={onOptionsChange} />);
    expect(screen.getByLabelText('Password')).toHaveValue('configured');
    fireEvent.click(screen.getByText('Reset'));
    const saved = onOptionsChange.mock.calls[0][0];
    expect(saved.secureJsonFields.password).toBe(false);
    expect(saved.secureJsonData.password).toBe('');
  });

  it('writes other settings to jsonData without a password', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={options()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('Query timeout'), { target: { value: '45' } });
    const saved = onOptionsChange.mock.calls[0][0];
    expect(saved.jsonData).toEqual({ host: 'ch.internal', port: 9000, queryTimeoutSeconds: 45 });
    fireEvent.change(screen.getByLabelText('Host'), { target: { value: 'ch2' } });
    expect(onOptionsChange.mock.calls[1][0].jsonData.host).toBe('ch2');
  });
});
