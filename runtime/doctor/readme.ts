// The README's list of doctor's checks, made from the registry so the two
// cannot drift (test/unit/doctor-readme.test.ts compares them).
import { CHECKS } from './registry.js';

export const README_BEGIN = '<!-- doctor-checks: generated from runtime/doctor/registry.ts, checked by test/unit/doctor-readme.test.ts -->';
export const README_END = '<!-- /doctor-checks -->';

/** GitHub's anchor of the "### <name>" heading: lower case, dots dropped. */
const anchor = (name: string): string => name.toLowerCase().replace(/\./g, '');

export function doctorChecksTable(): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/</g, '&lt;');
  return [
    README_BEGIN,
    '| Check | Passes when | Reads |',
    '|---|---|---|',
    ...CHECKS.map((c) => `| [\`${c.name}\`](#${anchor(c.name)}) | ${cell(c.title)} | ${cell(c.reads)} |`),
    README_END,
    '',
  ].join('\n');
}
