// Builds the frontend bundle into dist/ the way Grafana loads plugins: one AMD
// module (module.js) whose Grafana, React and shared libraries are provided
// by Grafana at run time (externals), plus plugin.json (version and date
// filled in), the README, the changelog and the images.
import CopyWebpackPlugin from 'copy-webpack-plugin';
import fs from 'fs';
import path from 'path';
import type { Configuration } from 'webpack';

const ROOT = path.resolve(__dirname, '..', '..');
const SOURCE = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const pluginJSON = JSON.parse(fs.readFileSync(path.join(SOURCE, 'plugin.json'), 'utf8'));

// Provided by Grafana to every plugin.
const externals = [
  'react',
  'react-dom',
  'react-redux',
  'redux',
  'rxjs',
  'rxjs/operators',
  'react-router',
  'react-router-dom',
  'd3',
  'lodash',
  'moment',
  'jquery',
  'i18next',
  'emotion',
  '@emotion/css',
  '@emotion/react',
  '@grafana/data',
  '@grafana/runtime',
  '@grafana/ui',
  '@grafana/schema',
  '@grafana/i18n',
];

const config = (env: Record<string, unknown>): Configuration => {
  const production = Boolean(env.production);
  return {
    mode: production ? 'production' : 'development',
    devtool: production ? 'source-map' : 'eval-source-map',
    context: SOURCE,
    entry: { module: './module.ts' },
    externals: [
      ...externals,
      ({ request }, callback) => {
        // grafana/app/... imports are Grafana's own modules.
        if (request && request.startsWith('grafana/')) {
          return callback(undefined, request.slice('grafana/'.length));
        }
        return callback();
      },
    ],
    output: {
      // Keep the backend binaries the Go build put in dist/.
      clean: { keep: /^gpx_/ },
      filename: '[name].js',
      path: DIST,
      library: { type: 'amd' },
      publicPath: `public/plugins/${pluginJSON.id}/`,
      uniqueName: pluginJSON.id,
    },
    resolve: {
      extensions: ['.ts', '.tsx', '.js', '.jsx'],
      modules: [SOURCE, 'node_modules'],
    },
    module: {
      rules: [
        {
          test: /\.[tj]sx?$/,
          exclude: /node_modules/,
          use: {
            loader: 'swc-loader',
            options: {
              jsc: {
                baseUrl: SOURCE,
                target: 'es2018',
                loose: false,
                parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
                transform: { react: { runtime: 'classic' } },
              },
            },
          },
        },
        { test: /\.svg$/, type: 'asset/resource', generator: { filename: 'img/[name][ext]' } },
      ],
    },
    plugins: [
      new CopyWebpackPlugin({
        patterns: [
          {
            from: 'plugin.json',
            to: '.',
            transform: (content: Buffer) =>
              content
                .toString()
                .replace('%VERSION%', pkg.version)
                .replace('%TODAY%', new Date().toISOString().slice(0, 10)),
          },
          { from: path.join(ROOT, 'README.md'), to: '.' },
          { from: path.join(ROOT, 'CHANGELOG.md'), to: '.' },
          { from: 'img/**/*', to: '.' },
        ],
      }),
    ],
    performance: { hints: false },
  };
};

export default config;
