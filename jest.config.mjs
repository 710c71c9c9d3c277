/** @type {import('jest').Config} */
export default {
  rootDir: '.',
  testEnvironment: 'node',
  // Packaging fixture apps have their own package.json and node_modules: keep jest out.
  modulePathIgnorePatterns: ['<rootDir>/test/packaging/'],
  testRegex: 'test/.*\\.(spec|e2e-spec)\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
};
