// @grafana/ui's icons load their SVG asynchronously through react-inlinesvg,
// which updates state after a test ends; tests do not need the pictures.
const React = require('react');

function InlineSVG(props) {
  return React.createElement('svg', { 'data-src': props.src, className: props.className });
}

module.exports = InlineSVG;
module.exports.default = InlineSVG;
module.exports.cacheStore = {};
