import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file runs in its own process (files in parallel, one per core):
    // kernel-facing tests use their own uniquely prefixed namespaces, so they
    // do not meet, and a crashing file cannot take another down with it.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
