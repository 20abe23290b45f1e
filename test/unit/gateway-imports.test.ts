// The gateway process never loads the EKS SDK: only doctor calls EKS, and
// main.ts reaches doctor through a dynamic import. The static value imports of
// runtime/main.ts, followed transitively (type-only imports and import()
// left out, as Node leaves them), must not reach @aws-sdk/client-eks: the
// bundle would keep its source in the gateway's heap (scripts/bundle.mjs).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The value imports and re-exports of one file, as written. */
function staticValueImports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && !st.importClause?.isTypeOnly && ts.isStringLiteral(st.moduleSpecifier)) {
      const named = st.importClause?.namedBindings;
      const onlyTypes = st.importClause !== undefined && st.importClause.name === undefined && named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      if (!onlyTypes) out.push(st.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(st) && !st.isTypeOnly && st.moduleSpecifier !== undefined && ts.isStringLiteral(st.moduleSpecifier)) {
      out.push(st.moduleSpecifier.text);
    }
  }
  return out;
}

function staticClosure(start: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of staticValueImports(file)) {
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));
    }
  }
  return { files, packages };
}

describe('what the gateway process loads', () => {
  it('runtime/main.ts reaches the EC2 SDK but not the EKS SDK, nor doctor', () => {
    const { files, packages } = staticClosure(join(repoRoot, 'runtime', 'main.ts'));
    expect(packages).toContain('@aws-sdk/client-ec2');
    expect(files).toContain(join(repoRoot, 'effects', 'aws', 'index.ts'));
    expect(packages).not.toContain('@aws-sdk/client-eks');
    expect([...files].filter((f) => f.includes(`${join('runtime', 'doctor')}`) || /eks-(client|cluster)\.ts$/.test(f))).toEqual([]);
  });

  it('doctor does reach it (the walk sees what it is meant to find)', () => {
    expect(staticClosure(join(repoRoot, 'runtime', 'doctor', 'cli.ts')).packages).toContain('@aws-sdk/client-eks');
  });
});
