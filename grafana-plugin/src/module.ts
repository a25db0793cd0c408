import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { SettlewatchOptions, SettlewatchQuery, SettlewatchSecureOptions } from './types';

export const plugin = new DataSourcePlugin<DataSource, SettlewatchQuery, SettlewatchOptions, SettlewatchSecureOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
