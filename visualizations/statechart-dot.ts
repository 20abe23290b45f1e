// DOT (Graphviz) for an XState v5 machine, read from the machine's resolved
// state-node tree (not from the source text):
//   - atomic states are rounded boxes; final states have a double border;
//   - compound states are clusters with a ● initial marker; parallel states
//     are clusters marked "parallel" whose regions have dashed borders;
//   - entry/exit actions, invoked actors and targetless transitions are
//     listed inside the state (box or cluster label);
//   - transitions are edges labelled `EVENT [guard]` with `/ actions` below;
//     delayed transitions read `after <delayName>`, eventless ones `always`,
//     invocation results `done: <actor>` / `error: <actor>`.
// Everything is emitted in definition order, so the DOT (and the SVG
// rendered from it) is the same for the same machine file.
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export interface DotOptions {
  /** Shown in the legend, e.g. the machine's source file. */
  readonly source?: string;
  /** Graphviz rankdir: TB (default) or LR. */
  readonly rankdir?: 'TB' | 'LR';
}

type AnyTransition = AnyStateNode['transitions'] extends Map<string, infer T> ? T extends readonly (infer U)[] ? U : never : never;

const FONT = 'Helvetica';
const COLORS = {
  line: '#4a5568',
  stateFill: '#ffffff',
  clusterFill: '#f7fafc',
  parallelFill: '#fffaf0',
  regionFill: '#ffffff',
  finalFill: '#edf2f7',
  guard: '#9b2c2c',
  action: '#2b6cb0',
  delay: '#6b46c1',
  muted: '#718096',
};

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function quote(id: string): string {
  return `"${id.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A name for an action, guard or actor reference, whatever its form. */
function refName(ref: unknown): string {
  if (typeof ref === 'string') return ref;
  if (typeof ref === 'function') {
    const fn = ref as { name?: unknown; type?: unknown; guards?: unknown; stateValue?: unknown };
    if (Array.isArray(fn.guards)) {
      const parts = (fn.guards as unknown[]).map(refName);
      if (fn.name === 'not') return `!${parts.join('')}`;
      return `(${parts.join(fn.name === 'or' ? ' || ' : ' && ')})`;
    }
    if (fn.stateValue !== undefined) return `in(${JSON.stringify(fn.stateValue)})`;
    if (typeof fn.type === 'string') return fn.type;
    return typeof fn.name === 'string' && fn.name !== '' ? fn.name : 'inline';
  }
  if (ref !== null && typeof ref === 'object') {
    const obj = ref as { type?: unknown; id?: unknown };
    if (typeof obj.type === 'string') return obj.type;
    if (typeof obj.id === 'string') return obj.id;
  }
  return 'inline';
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? (value as unknown[]) : [value];
}

function formatDelay(delay: unknown): string {
  if (typeof delay === 'number') return `${delay} ms`;
  return refName(delay);
}

function children(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states);
}

function isCompound(node: AnyStateNode): boolean {
  return node.type === 'compound' || node.type === 'parallel';
}

function isDescendantOrSelf(node: AnyStateNode, ancestor: AnyStateNode): boolean {
  for (let n: AnyStateNode | undefined = node; n !== undefined; n = n.parent) if (n === ancestor) return true;
  return false;
}

interface Labelled {
  readonly event: string;
  readonly kind: 'event' | 'delay' | 'always' | 'done' | 'error';
}

/** How a transition's event reads in the chart. */
function eventLabel(node: AnyStateNode, transition: AnyTransition, delays: Map<string, string>): Labelled {
  const type = String(transition.eventType);
  const delay = delays.get(type);
  if (delay !== undefined) return { event: `after ${delay}`, kind: 'delay' };
  if (type === '') return { event: 'always', kind: 'always' };
  const invokeIds = new Set(node.invoke.map((i) => i.id));
  for (const [prefix, word] of [['xstate.done.actor.', 'done'], ['xstate.error.actor.', 'error']] as const) {
    if (type.startsWith(prefix) && invokeIds.has(type.slice(prefix.length))) {
      return { event: `${word}: ${type.slice(prefix.length)}`, kind: word };
    }
  }
  if (type === `xstate.done.state.${node.id}`) {
    return { event: node.type === 'parallel' ? 'done (all regions final)' : 'done (final state reached)', kind: 'done' };
  }
  return { event: type, kind: 'event' };
}

interface Edge {
  readonly from: AnyStateNode;
  readonly to: AnyStateNode;
  readonly label: string;
  readonly kind: Labelled['kind'];
  readonly reenter: boolean;
}

class DotWriter {
  private readonly lines: string[] = [];
  private readonly edges: Edge[] = [];
  private readonly delays = new Map<string, string>();

  constructor(private readonly machine: AnyStateMachine, private readonly options: DotOptions) {}

  write(): string {
    const root = this.machine.root;
    this.collectDelays(root);
    this.lines.push(`digraph ${quote(this.machine.id)} {`);
    this.lines.push(
      `  graph [compound=true, rankdir=${this.options.rankdir ?? 'TB'}, fontname="${FONT}", fontsize=11, nodesep=0.35, ranksep=0.45, ` +
        `pad=0.25, labelloc=b, labeljust=l, label=${this.legend()}];`,
    );
    this.lines.push(
      `  node [fontname="${FONT}", fontsize=11, shape=box, style="rounded,filled", fillcolor="${COLORS.stateFill}", color="${COLORS.line}", margin="0.12,0.06"];`,
    );
    this.lines.push(`  edge [fontname="${FONT}", fontsize=9, color="${COLORS.line}", arrowsize=0.7];`);
    this.writeState(root, '  ');
    for (const edge of this.edges) this.writeEdge(edge);
    this.lines.push('}');
    return `${this.lines.join('\n')}\n`;
  }

  private collectDelays(node: AnyStateNode): void {
    for (const after of node.after) this.delays.set(String(after.eventType), formatDelay(after.delay));
    for (const child of children(node)) this.collectDelays(child);
  }

  private legend(): string {
    const rows: string[] = [];
    const title = `statechart “${this.machine.id}”${this.options.source ? ` — ${this.options.source}` : ''}`;
    rows.push(`<tr><td align="left"><b>${esc(title)}</b></td></tr>`);
    rows.push(
      `<tr><td align="left"><font point-size="9" color="${COLORS.muted}">● initial · double border = final · dashed = parallel region · ` +
        `EVENT <font color="${COLORS.guard}">[guard]</font> <font color="${COLORS.action}">/ actions</font> · ` +
        `<font color="${COLORS.delay}">after delay</font> · <b>invoke</b> = actor running while in the state, stopped when it is left</font></td></tr>`,
    );
    const implementations = this.machine.implementations as { delays?: Record<string, unknown> };
    const delays = Object.entries(implementations.delays ?? {}).map(([name, value]) =>
      typeof value === 'number' ? `${name} ${formatMs(value)}` : `${name} (computed)`,
    );
    if (delays.length > 0) {
      rows.push(
        `<tr><td align="left"><font point-size="9" color="${COLORS.muted}">delays (chart defaults; the runtime provides configured values): ${esc(delays.join(', '))}</font></td></tr>`,
      );
    }
    return `<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">${rows.join('')}</table>>`;
  }

  /** Actors the machine declares but no state invokes: it spawns them (e.g. one per node). */
  private spawnedActors(): string[] {
    const invoked = new Set<string>();
    const walk = (node: AnyStateNode): void => {
      for (const inv of node.invoke) if (typeof inv.src === 'string') invoked.add(inv.src);
      for (const child of children(node)) walk(child);
    };
    walk(this.machine.root);
    const implementations = this.machine.implementations as { actors?: Record<string, unknown> };
    return Object.keys(implementations.actors ?? {}).filter((name) => !invoked.has(name));
  }

  /** Lines listed inside a state: description, entry, invoke, exit, targetless transitions. */
  private bodyLines(node: AnyStateNode): string[] {
    const out: string[] = [];
    if (node.description) out.push(`<i>${esc(node.description)}</i>`);
    if (node.parent === undefined) {
      const spawned = this.spawnedActors();
      if (spawned.length > 0) out.push(`<b>spawns</b> ${esc(spawned.join(', '))} <font color="${COLORS.muted}">(declared actors no state invokes)</font>`);
    }
    // From the config, not node.entry/node.exit: those also hold the raise/cancel
    // actions xstate adds for `after` transitions, which the edges already show.
    const entry = asList(node.config.entry).map(refName);
    if (entry.length > 0) out.push(`<font color="${COLORS.action}">entry / ${esc(entry.join(', '))}</font>`);
    for (const inv of node.invoke) {
      const src = typeof inv.src === 'string' ? inv.src : refName(inv.src);
      out.push(`<b>invoke</b> ${esc(src)}${inv.id !== src ? ` (id ${esc(inv.id)})` : ''}`);
    }
    const exit = asList(node.config.exit).map(refName);
    if (exit.length > 0) out.push(`<font color="${COLORS.action}">exit / ${esc(exit.join(', '))}</font>`);
    for (const transitions of this.transitionsOf(node)) {
      for (const t of transitions) {
        if (t.target !== undefined && t.target.length > 0) continue;
        const { event } = eventLabel(node, t, this.delays);
        out.push(this.transitionText(event, t, ' '));
      }
    }
    return out;
  }

  private transitionsOf(node: AnyStateNode): AnyTransition[][] {
    const all: AnyTransition[][] = [...node.transitions.values()];
    if (node.always && node.always.length > 0) all.push(node.always);
    return all;
  }

  private transitionText(event: string, t: AnyTransition, actionSeparator: string): string {
    let text = esc(event);
    if (t.guard !== undefined) text += ` <font color="${COLORS.guard}">[${esc(refName(t.guard))}]</font>`;
    const actions = t.actions.map(refName);
    if (actions.length > 0) text += `${actionSeparator}<font color="${COLORS.action}">/ ${esc(actions.join(', '))}</font>`;
    return text;
  }

  private nodeId(node: AnyStateNode): string {
    return quote(node.id);
  }

  /** The node edges attach to for a compound state: its initial marker, or an invisible point. */
  private anchorId(node: AnyStateNode): string {
    return quote(`${node.id}#anchor`);
  }

  private clusterId(node: AnyStateNode): string {
    return quote(`cluster_${node.id}`);
  }

  private writeState(node: AnyStateNode, indent: string): void {
    if (isCompound(node)) {
      this.writeCluster(node, indent);
    } else if (node.type === 'history') {
      const deep = (node.config as { history?: string }).history === 'deep';
      this.lines.push(`${indent}${this.nodeId(node)} [shape=circle, style=filled, width=0.3, label=<${deep ? 'H*' : 'H'}>];`);
    } else {
      const body = this.bodyLines(node);
      const rows = [`<tr><td><b>${esc(node.key)}</b></td></tr>`, ...body.map((l) => `<tr><td align="left"><font point-size="9">${l}</font></td></tr>`)];
      const final = node.type === 'final';
      this.lines.push(
        `${indent}${this.nodeId(node)} [label=<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">${rows.join('')}</table>>` +
          `${final ? `, peripheries=2, fillcolor="${COLORS.finalFill}"` : ''}];`,
      );
    }
    for (const transitions of this.transitionsOf(node)) {
      for (const t of transitions) {
        if (t.target === undefined || t.target.length === 0) continue;
        const { event, kind } = eventLabel(node, t, this.delays);
        for (const target of t.target) {
          this.edges.push({ from: node, to: target, label: this.transitionText(event, t, '<br/>'), kind, reenter: t.reenter });
        }
      }
    }
  }

  private writeCluster(node: AnyStateNode, indent: string): void {
    const parallel = node.type === 'parallel';
    const region = node.parent?.type === 'parallel';
    const title = node.parent === undefined ? `${node.key} (machine)` : node.key;
    const heading = `<b>${esc(title)}</b>${parallel ? ` <font color="${COLORS.delay}">‖ parallel</font>` : ''}${region ? ` <font color="${COLORS.muted}">(region)</font>` : ''}`;
    const rows = [`<tr><td align="left">${heading}</td></tr>`, ...this.bodyLines(node).map((l) => `<tr><td align="left"><font point-size="9">${l}</font></td></tr>`)];
    const fill = parallel ? COLORS.parallelFill : region ? COLORS.regionFill : COLORS.clusterFill;
    const style = region ? 'dashed,rounded,filled' : 'rounded,filled';
    this.lines.push(`${indent}subgraph ${this.clusterId(node)} {`);
    this.lines.push(
      `${indent}  graph [label=<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">${rows.join('')}</table>>, ` +
        `labeljust=l, labelloc=t, style="${style}", fillcolor="${fill}", color="${COLORS.line}", margin=10];`,
    );
    const initial = node.type === 'compound' ? (node.config as { initial?: unknown }).initial : undefined;
    const initialChild = typeof initial === 'string' ? node.states[initial] : undefined;
    if (initialChild !== undefined) {
      this.lines.push(`${indent}  ${this.anchorId(node)} [shape=point, width=0.12, style=filled, fillcolor="${COLORS.line}", label=""];`);
      const head = isCompound(initialChild) ? `${this.anchorId(initialChild)} [lhead=${this.clusterId(initialChild)}]` : this.nodeId(initialChild);
      this.lines.push(`${indent}  ${this.anchorId(node)} -> ${head};`);
    } else {
      this.lines.push(`${indent}  ${this.anchorId(node)} [shape=point, width=0.01, style=invis, label=""];`);
    }
    for (const child of children(node)) this.writeState(child, `${indent}  `);
    this.lines.push(`${indent}}`);
  }

  private writeEdge(edge: Edge): void {
    const attrs: string[] = [];
    let tail = this.nodeId(edge.from);
    let head = this.nodeId(edge.to);
    if (isCompound(edge.from)) {
      tail = this.anchorId(edge.from);
      if (!isDescendantOrSelf(edge.to, edge.from)) attrs.push(`ltail=${this.clusterId(edge.from)}`);
    }
    if (isCompound(edge.to)) {
      head = this.anchorId(edge.to);
      if (!isDescendantOrSelf(edge.from, edge.to)) attrs.push(`lhead=${this.clusterId(edge.to)}`);
    }
    const prefix = edge.reenter ? '↻ ' : '';
    attrs.push(`label=<${prefix}${edge.label}>`);
    if (edge.kind === 'delay') attrs.push(`color="${COLORS.delay}"`, `fontcolor="${COLORS.delay}"`, 'style=dashed');
    if (edge.kind === 'error') attrs.push('color="#c53030"');
    this.lines.push(`  ${tail} -> ${head} [${attrs.join(', ')}];`);
  }
}

function formatMs(ms: number): string {
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

/** DOT source for the machine's statechart (deterministic for the same machine). */
export function machineToDot(machine: AnyStateMachine, options: DotOptions = {}): string {
  return new DotWriter(machine, options).write();
}
