// The checked-in statechart artefacts: fresh against the machines' source,
// deterministic, and carrying what a reviewer needs (states, events, guards,
// delays, invoked actors, entry/exit actions, parallel regions).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, assign, createMachine, not, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { fleetMachine } from '../../machines/fleet.machine.js';
import { gatewayMachine, shardMachine } from '../../machines/gateway.machine.js';
import { vtepMachine } from '../../machines/vtep.machine.js';
import { machineDefinitionJson } from '../../visualizations/definition.js';
import { dotToSvg } from '../../visualizations/graphviz.js';
import { machineToDot } from '../../visualizations/statechart-dot.js';
import { buildStatecharts, MACHINES, staleStatecharts } from '../../visualizations/statecharts.js';

describe('generated statecharts', () => {
  it('visualizations/generated/ matches the machines (else run `npm run visualize`)', async () => {
    expect(await staleStatecharts(), 'stale files in visualizations/generated/: run `npm run visualize` and commit them').toEqual([]);
  });

  it('the staleness check reports missing and changed files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'viz-stale-'));
    try {
      const files = await buildStatecharts();
      expect(await staleStatecharts(dir)).toEqual(files.map((f) => f.name));
      for (const f of files) await writeFile(join(dir, f.name), f.content);
      expect(await staleStatecharts(dir)).toEqual([]);
      await writeFile(join(dir, 'vtep.dot'), `${files.find((f) => f.name === 'vtep.dot')!.content} `);
      expect(await staleStatecharts(dir)).toEqual(['vtep.dot']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is deterministic: two builds are byte for byte the same', async () => {
    const a = await buildStatecharts();
    const b = await buildStatecharts();
    expect(a.map((f) => f.name)).toEqual(b.map((f) => f.name));
    for (let i = 0; i < a.length; i++) expect(a[i]!.content, a[i]!.name).toBe(b[i]!.content);
  });

  it('covers every machine file with JSON, DOT and SVG', async () => {
    const names = (await buildStatecharts()).map((f) => f.name);
    for (const { machine } of MACHINES) {
      expect(names).toEqual(expect.arrayContaining([`${machine.id}.machine.json`, `${machine.id}.dot`, `${machine.id}.svg`]));
    }
    expect(MACHINES.map((m) => m.machine.id).sort()).toEqual(['fleet', 'gateway', 'shard', 'vtep']);
  });
});

describe('machine definition JSON (what the Stately visualizer/inspector reads)', () => {
  it('is the machine config with functions replaced by their names', () => {
    const json = JSON.parse(machineDefinitionJson(vtepMachine)) as Record<string, unknown>;
    expect(json.id).toBe('vtep');
    expect(json.initial).toBe('starting');
    // `context` is a function in vtep.machine.ts.
    expect(json.context).toEqual({ type: 'context' });
    const states = json.states as Record<string, { invoke?: { src: string; input?: unknown } }>;
    expect(Object.keys(states)).toEqual(Object.keys(vtepMachine.config.states ?? {}));
    expect(states.programming?.invoke?.src).toBe('programVtep');
    expect(states.programming?.invoke?.input).toEqual({ type: 'input' });
  });

  it('round-trips to the same state tree for each machine', () => {
    for (const machine of [gatewayMachine, shardMachine, vtepMachine, fleetMachine]) {
      const json = JSON.parse(machineDefinitionJson(machine)) as { id: string; states: Record<string, unknown> };
      expect(json.id).toBe(machine.id);
      expect(Object.keys(json.states)).toEqual(Object.keys(machine.root.states));
      expect(machineDefinitionJson(machine).endsWith('}\n')).toBe(true);
    }
  });

  it('names built-in action objects by their type', () => {
    const m = createMachine({ id: 'm', initial: 'a', states: { a: { entry: assign({}) } } });
    const json = JSON.parse(machineDefinitionJson(m)) as { states: { a: { entry: unknown } } };
    expect(json.states.a.entry).toEqual({ type: 'xstate.assign' });
  });
});

describe('gateway statechart (DOT)', () => {
  const dot = machineToDot(gatewayMachine, { source: 'machines/gateway.machine.ts' });

  it('shows start-up, serving and stopping, and the shard children it spawns', () => {
    for (const id of ['gateway', 'gateway.initialising']) expect(dot).toContain(`subgraph "cluster_${id}" {`);
    expect(dot).toMatch(/<b>spawns<\/b> shard /);
    expect(dot).toContain('entry / startShards');
    expect(dot).toContain('<b>invoke</b> fleet');
    expect(dot).toContain('SHARD.STOPPED <font color="#2b6cb0">/ countShardStopped</font>');
    expect(dot).toContain('always <font color="#9b2c2c">[allShardsStopped]</font>');
    expect(dot).toContain('<b>invoke</b> leaveMembership');
    expect(dot).toMatch(/"gateway\.stopped" \[label=<[^\n]*peripheries=2/);
    expect(dot).toContain('machines/gateway.machine.ts');
  });
});

describe('shard statechart (DOT)', () => {
  const dot = machineToDot(shardMachine, { source: 'machines/shard.machine.ts' });

  it('draws compound states as clusters and marks parallel states and their regions', () => {
    for (const id of ['shard', 'shard.electing', 'shard.leader', 'shard.leader.lease', 'shard.leader.vtepConfig', 'shard.leader.routeTables', 'shard.steppingDown']) {
      expect(dot).toContain(`subgraph "cluster_${id}" {`);
    }
    expect(dot).toMatch(/<b>leader<\/b> <font[^>]*>‖ parallel<\/font>/);
    // Regions of a parallel state: dashed.
    expect(dot).toMatch(/<b>lease<\/b> <font[^>]*>\(region\)<\/font>[^\n]*style="dashed,rounded,filled"/);
    expect(dot).toMatch(/<b>routeTables<\/b> <font[^>]*>\(region\)<\/font>[^\n]*style="dashed,rounded,filled"/);
  });

  it('labels transitions with event, [guard] and / actions, delays as `after <name>`', () => {
    expect(dot).toContain('LEASE.RENEW_DEADLINE_EXCEEDED<br/><font color="#2b6cb0">/ causeRenewDeadline</font>');
    expect(dot).toMatch(/"shard\.leader#anchor" -> "shard\.steppingDown#anchor" \[ltail="cluster_shard\.leader", lhead="cluster_shard\.steppingDown", label=<LEASE\.RENEW_DEADLINE_EXCEEDED/);
    expect(dot).toContain('done: tryAcquireLease <font color="#9b2c2c">[leaseHeld]</font>');
    expect(dot).toContain('after standbyRetryPeriod <font color="#9b2c2c">[mayCompete]</font>');
    expect(dot).toContain('after releaseTimeout');
    expect(dot).toContain('error: releaseLease');
    expect(dot).toContain('done: renewLease <font color="#9b2c2c">[attemptInconclusive]</font>');
    expect(dot).toContain('error: writeVtepConfig <font color="#9b2c2c">[ownedElsewhere]</font>');
  });

  it('lists invoked actors and entry/exit actions in their states, without xstate internals', () => {
    expect(dot).toContain('<b>invoke</b> tryAcquireLease');
    expect(dot).toContain('<b>invoke</b> releaseLease');
    expect(dot).toContain('entry / startTerm, announceLeader');
    // The fence runs first on leaving leader.
    expect(dot).toContain('exit / fence, noteStepDownCause, cancelRenewDeadline, announceNotLeader');
    expect(dot).toContain('<b>invoke</b> settleWrites');
    // `after` transitions add raise/cancel actions internally: not shown as entry/exit.
    expect(dot).not.toContain('xstate.raise');
    expect(dot).not.toContain('xstate.cancel');
  });

  it('lists the delays with their chart defaults in the legend', () => {
    // Production's timings (machines/timings.ts).
    expect(dot).toContain('renewDeadline 2 s');
    expect(dot).toContain('renewRetryDelay 250 ms');
    expect(dot).toContain('driftRepairPeriod 30 s');
    expect(dot).toContain('lateWriteCheckDelay 10 s');
    expect(dot).toContain('machines/shard.machine.ts');
  });

  it('shows placement: the hand-over and the takeover grace', () => {
    expect(dot).toMatch(/PLACEMENT\.CHANGED <font color="#9b2c2c">\[handOverDue\]<\/font>/);
    expect(dot).toContain('causeHandOver');
  });
});

describe('fleet statechart (DOT)', () => {
  it('names the actors the fleet spawns rather than invokes', () => {
    const dot = machineToDot(fleetMachine);
    expect(dot).toMatch(/<b>fleet \(machine\)<\/b>.*<b>spawns<\/b> vtep /);
    expect(dot).not.toMatch(/<b>spawns<\/b>[^<]*reconcileKernel/);
    expect(machineToDot(shardMachine)).not.toContain('<b>spawns</b>');
  });
});

describe('DOT for other shapes of machine', () => {
  const m = setup({
    guards: { a: () => true, b: () => true },
    delays: { tick: 100 },
    actions: { log: () => {} },
  }).createMachine({
    id: 'shapes',
    initial: 'one',
    states: {
      one: {
        description: 'first <state>',
        on: { GO: { target: 'two', guard: and(['a', not('b')]) } },
        after: { 250: 'two', tick: { target: 'two', actions: 'log' } },
      },
      two: {
        initial: 'x',
        states: { x: { on: { NEXT: 'y' } }, y: {}, hist: { type: 'history', history: 'deep' } },
        on: { AGAIN: { target: 'two', reenter: true }, BACK: '#shapes.one' },
      },
    },
  });
  const dot = machineToDot(m);

  it('formats higher-order guards, numeric and named delays, descriptions, history and re-entry', () => {
    expect(dot).toContain('[(a &amp;&amp; !b)]');
    expect(dot).toContain('after 250 ms');
    expect(dot).toContain('after tick');
    expect(dot).toContain('<i>first &lt;state&gt;</i>');
    expect(dot).toContain('label=<H*>');
    expect(dot).toContain('↻ AGAIN');
    // A transition into a compound state ends at its border.
    expect(dot).toMatch(/"shapes\.one" -> "shapes\.two#anchor" \[lhead="cluster_shapes\.two"/);
    // The self-transition of a compound state stays inside it (no lhead/ltail onto its own cluster).
    expect(dot).toMatch(/"shapes\.two#anchor" -> "shapes\.two#anchor" \[label=<↻ AGAIN>\]/);
  });

  it('renders to SVG with Graphviz', async () => {
    const svg = await dotToSvg(dot);
    expect(svg).toContain('<svg');
    expect(svg).toContain('>one</text>');
    expect(svg).toContain('↻ AGAIN</text>');
  });

  it('reports a Graphviz failure as an error, not a crash', async () => {
    await expect(dotToSvg('digraph { a -> ')).rejects.toThrow(/Graphviz/);
  });
});
