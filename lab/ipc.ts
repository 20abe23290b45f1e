// The parent's end of a child process started with an IPC channel
// (NetnsRun.spawnNode): waits for its {ready} message, then sends requests
// {id, ...body} and matches replies {id, ok, ...} by id.
import type { ChildProcess } from 'node:child_process';
import { stderrTail } from './netns.js';

export type Reply = { id: number; ok: boolean; value?: unknown; error?: unknown; [k: string]: unknown };

export class IpcPeer {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;

  constructor(readonly child: ChildProcess, what: string) {
    this.ready = new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`${what} exited (${code}) before ready: ${stderrTail(child)}`));
      child.once('exit', onExit);
      child.once('error', reject);
      const onMsg = (m: unknown): void => {
        if ((m as { ready?: boolean }).ready === true) {
          child.off('exit', onExit);
          child.off('message', onMsg);
          resolve();
        }
      };
      child.on('message', onMsg);
    });
    child.on('message', (m: unknown) => {
      const r = m as Reply;
      const p = this.#pending.get(r.id);
      if (p === undefined) return;
      this.#pending.delete(r.id);
      p.resolve(r);
    });
    child.on('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${what} exited (${code}): ${stderrTail(child)}`));
      this.#pending.clear();
    });
  }

  request(body: Record<string, unknown>): Promise<Reply> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.child.send({ id, ...body });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}
