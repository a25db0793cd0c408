// Jest for the plugin's frontend: jsdom, TypeScript and JSX through SWC, and
// the ES modules that @grafana/ui pulls in (d3, ol, …) transformed as well
// (their .mjs files too), since Jest runs CommonJS.
const path = require('path');

const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
      transform: { react: { runtime: 'classic' } },
      target: 'es2021',
    },
  },
];

// ES-module-only packages under node_modules that must be transformed.
const esModules = [
  '@grafana',
  'd3',
  'd3-[a-z-]+',
  'internmap',
  'delaunator',
  'robust-predicates',
  'ol',
  'ol-mapbox-style',
  'color-[a-z-]+',
  'earcut',
  'pbf',
  'rbush',
  'quickselect',
  'react-colorful',
  'uuid',
  'marked',
  'nanoid',
  'ml-[a-z-]+',
  'is-[a-z-]+',
  'react-calendar',
  'get-user-locale',
  'memoize',
  'mimic-function',
  '@wojtekmaj',
  'yaml',
  'leven',
];

module.exports = {
  rootDir: path.resolve(__dirname, '..'),
  testEnvironment: 'jsdom',
  testMatch: ['<rootDir>/src/**/*.test.{ts,tsx}'],
  moduleFileExtensions: ['ts', 'tsx', 'js', 'jsx', 'mjs', 'cjs', 'json'],
  moduleNameMapper: {
    '\\.(css|scss|sass)$': 'identity-obj-proxy',
    '\\.(svg|png|jpg)$': '<rootDir>/.config/jest/file-stub.js',
    '^react-inlinesvg$': '<rootDir>/.config/jest/inlinesvg-stub.js',
  },
  setupFiles: ['<rootDir>/.config/jest/polyfills.js'],
  setupFilesAfterEnv: ['<rootDir>/jest-setup.js'],
  transform: {
    '^.+\\.(t|j)sx?$': swc,
    '^.+\\.m?js$': swc,
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esModules.join('|')})/)`],
  watchPathIgnorePatterns: ['<rootDir>/node_modules', '<rootDir>/dist'],
};
