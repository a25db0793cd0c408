import React from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Alert, FieldSet, InlineField, InlineSwitch, Input, SecretInput, Select, Stack } from '@grafana/ui';

import { SettlewatchOptions, SettlewatchSecureOptions } from '../types';

type Props = DataSourcePluginOptionsEditorProps<SettlewatchOptions, SettlewatchSecureOptions>;

const LABEL = 22;

/**
 * The data source settings. The password goes to secureJsonData only:
 * Grafana encrypts it and never sends it back to a browser; jsonData (which
 * every viewer of a dashboard can read) never holds it.
 */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const json = options.jsonData ?? {};
  const secureFields = options.secureJsonFields ?? {};

  const setJSON = (patch: Partial<SettlewatchOptions>) => {
    const next: SettlewatchOptions & { password?: unknown } = { ...json, ...patch };
    delete next.password; // never, whatever an older editor saved there
    onOptionsChange({ ...options, jsonData: next });
  };
  const num = (v: string): number | undefined => {
    const n = parseInt(v, 10);
    return Number.isFinite(n) ? n : undefined;
  };
  const onPassword = (password: string) => {
    const jsonData: SettlewatchOptions & { password?: unknown } = { ...json };
    delete jsonData.password;
    onOptionsChange({ ...options, jsonData, secureJsonData: { ...options.secureJsonData, password } });
  };
  const onResetPassword = () => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureFields, password: false },
      secureJsonData: { ...options.secureJsonData, password: '' },
    });
  };

  return (
    <Stack direction="column" gap={2}>
      <FieldSet label="ClickHouse">
        <InlineField label="Host" labelWidth={LABEL} tooltip="Name or IP address of the ClickHouse server, without port or scheme" required>
          <Input aria-label="Host" width={40} value={json.host ?? ''} placeholder="clickhouse.internal" onChange={(e) => setJSON({ host: e.currentTarget.value })} />
        </InlineField>
        <InlineField label="Port" labelWidth={LABEL} tooltip="Native protocol: 9000, or 9440 with TLS (not the HTTP port 8123)">
          <Input aria-label="Port" type="number" width={12} value={json.port ?? ''} placeholder="9000" onChange={(e) => setJSON({ port: num(e.currentTarget.value) })} />
        </InlineField>
        <InlineField label="Database" labelWidth={LABEL}>
          <Input aria-label="Database" width={30} value={json.database ?? ''} placeholder="settlewatch" onChange={(e) => setJSON({ database: e.currentTarget.value })} />
        </InlineField>
        <InlineField label="User" labelWidth={LABEL} tooltip="Use a read-only user (profile readonly=2): see the plugin README">
          <Input aria-label="User" width={30} value={json.username ?? ''} placeholder="default" onChange={(e) => setJSON({ username: e.currentTarget.value })} />
        </InlineField>
        <InlineField label="Password" labelWidth={LABEL} tooltip="Stored encrypted (secure JSON)">
          <SecretInput
            aria-label="Password"
            width={30}
            isConfigured={Boolean(secureFields.password)}
            value={options.secureJsonData?.password ?? ''}
            onChange={(e) => onPassword(e.currentTarget.value)}
            onReset={onResetPassword}
          />
        </InlineField>
      </FieldSet>
      <FieldSet label="TLS">
        <InlineField label="Secure (TLS)" labelWidth={LABEL}>
          <InlineSwitch aria-label="Secure" value={Boolean(json.secure)} onChange={(e) => setJSON({ secure: e.currentTarget.checked, tlsSkipVerify: e.currentTarget.checked ? json.tlsSkipVerify : false })} />
        </InlineField>
        <InlineField label="Skip TLS verify" labelWidth={LABEL} tooltip="Only for test servers with self-signed certificates" disabled={!json.secure}>
          <InlineSwitch aria-label="Skip TLS verify" value={Boolean(json.tlsSkipVerify)} onChange={(e) => setJSON({ tlsSkipVerify: e.currentTarget.checked })} />
        </InlineField>
        {json.tlsSkipVerify && <Alert severity="warning" title="Certificates are not verified: do not use this in production." />}
      </FieldSet>
      <FieldSet label="Limits">
        <InlineField label="Query timeout (s)" labelWidth={LABEL} tooltip="Each ClickHouse query stops after this (max_execution_time), or sooner when Grafana's request deadline is nearer">
          <Input aria-label="Query timeout" type="number" width={12} value={json.queryTimeoutSeconds ?? ''} placeholder="30" onChange={(e) => setJSON({ queryTimeoutSeconds: num(e.currentTarget.value) })} />
        </InlineField>
        <InlineField label="Dial timeout (s)" labelWidth={LABEL}>
          <Input aria-label="Dial timeout" type="number" width={12} value={json.dialTimeoutSeconds ?? ''} placeholder="10" onChange={(e) => setJSON({ dialTimeoutSeconds: num(e.currentTarget.value) })} />
        </InlineField>
        <InlineField label="Row cap" labelWidth={LABEL} tooltip="Most rows one query returns; a capped result carries a warning">
          <Input aria-label="Row cap" type="number" width={12} value={json.maxRows ?? ''} placeholder="10000" onChange={(e) => setJSON({ maxRows: num(e.currentTarget.value) })} />
        </InlineField>
        <InlineField label="Max open connections" labelWidth={LABEL}>
          <Input aria-label="Max open connections" type="number" width={12} value={json.maxOpenConns ?? ''} placeholder="5" onChange={(e) => setJSON({ maxOpenConns: num(e.currentTarget.value) })} />
        </InlineField>
        <InlineField label="Compression" labelWidth={LABEL}>
          <Select
            aria-label="Compression"
            width={12}
            options={[
              { value: 'lz4', label: 'lz4' },
              { value: 'zstd', label: 'zstd' },
              { value: 'none', label: 'none' },
            ]}
            value={json.compression ?? 'lz4'}
            onChange={(v) => setJSON({ compression: v.value as SettlewatchOptions['compression'] })}
          />
        </InlineField>
        <InlineField label="Rollups stale after (min)" labelWidth={LABEL} tooltip="The health check warns when the rollup job's last run is older">
          <Input aria-label="Rollups stale after" type="number" width={12} value={json.rollupStaleMinutes ?? ''} placeholder="30" onChange={(e) => setJSON({ rollupStaleMinutes: num(e.currentTarget.value) })} />
        </InlineField>
      </FieldSet>
    </Stack>
  );
}
