// A whole Parley node (the headless CLI in --json mode) on one netlab host.
import path from 'node:path';
import type { SelfInfo } from '../../main/contract/contract.ts';
import { tempDir } from '../helpers/nodes.ts';
import { JsonLineProcess } from './json-lines.ts';
import type { Netlab } from './netlab.ts';

const CLI = path.resolve(import.meta.dirname, '../../main/headless/cli.ts');

export interface LabNode {
  p: JsonLineProcess;
  self: SelfInfo;
  host: string;
}

/** Starts a node with a fresh data dir on `host` and resolves once it printed `ready`. */
export async function startLabNode(lab: Netlab, host: string, name: string, args: string[], timing: object): Promise<LabNode> {
  const child = lab.spawn(host, process.execPath, [CLI, '--json', '--data', tempDir(), '--name', name, '--timing', JSON.stringify(timing), ...args], {
    PARLEY_LOG: 'warn',
  });
  const p = new JsonLineProcess(child, `${host}/${name}`);
  const ready = await p.waitFor((m) => m.type === 'ready', 60_000, 'ready');
  return { p, self: ready.self as SelfInfo, host };
}
