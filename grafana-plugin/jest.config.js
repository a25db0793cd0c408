// The plugin's Jest configuration lives in .config/ (scaffold layout); add
// project-specific overrides here.
module.exports = {
  ...require('./.config/jest.config'),
};
