// Group fan-out: one author, N other members (real nodes, real TLS, SQLite with
// synchronous=FULL each) spread over a few processes. How long until every member has stored a
// group message, one at a time and as a batch, next to the same text sent to the same members
// as N direct messages over the same links (the baseline a group replaces).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import type { PeerId } from '../main/contract/contract.ts';
import type { ParleyNode } from '../main/core/node.ts';
import { node, removeTempDirs } from '../test/helpers/nodes.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { cpuMs } from './proc.ts';
import { fmt, printTable, summarize } from './stats.ts';

const MEMBERS = Number(process.env.BENCH_GROUPS_MEMBERS ?? 50);
const PROCS = Math.max(1, Math.min(MEMBERS, Number(process.env.BENCH_GROUPS_PROCS ?? 5)));
const REPS = Number(process.env.BENCH_GROUPS_REPS ?? 20);
const BATCH = Number(process.env.BENCH_GROUPS_BATCH ?? 100);
const PEER = new URL('./groups-peer.ts', import.meta.url).pathname;
const now = () => performance.timeOrigin + performance.now();

interface Member {
  id: PeerId;
  port: number;
}

interface Proc {
  child: ChildProcess;
  members: Member[];
  done: Map<number, number>;
}

async function startProc(count: number, index: number): Promise<Proc> {
  const child = spawn(process.execPath, [PEER, String(count), `member-${index}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const done = new Map<number, number>();
  const members = await new Promise<Member[]>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`group member process exited with ${code}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (l) => {
      const msg = JSON.parse(l) as { type: string; members?: Member[]; run?: number; at?: number };
      if (msg.type === 'ready') resolve(msg.members!);
      else if (msg.type === 'done') done.set(msg.run!, msg.at!);
    });
  });
  return { child, members, done };
}

export async function groupsBench(): Promise<void> {
  const procs: Proc[] = [];
  let author: ParleyNode | null = null;
  let run = 0;
  try {
    const t0 = performance.now();
    author = await node('bench-groups-author', undefined, {});
    const shares = Array.from({ length: PROCS }, (_, i) => Math.floor(MEMBERS / PROCS) + (i < MEMBERS % PROCS ? 1 : 0));
    procs.push(...(await Promise.all(shares.map((n, i) => startProc(n, i)))));
    const members = procs.flatMap((p) => p.members);
    const direct: string[] = [];
    for (const m of members) {
      await author.api.call('addPeer', { address: `127.0.0.1:${m.port}`, id: m.id });
      direct.push((await author.api.call('openConversation', { peerId: m.id })).id);
    }
    const a = author;
    await waitFor('linked to every member', () => members.every((m) => a.links.get(m.id) && a.store.peerCertificate(m.id)), 120_000, 20);
    const group = await a.api.call('createGroup', { name: 'Fan-out', members: members.map((m) => m.id) });
    const setupSecs = (performance.now() - t0) / 1000;

    /** Runs `send`, then waits until every member has stored `count` messages of the run: ms from start. */
    const timed = async (count: number, send: (tag: string) => Promise<void>): Promise<{ ms: number; cpu: number }> => {
      const r = ++run;
      for (const p of procs) p.child.stdin!.write(`${JSON.stringify({ expect: { run: r, count } })}\n`);
      const [start, c0] = [now(), cpuMs(process.pid)];
      await send(`fanout ${r} `);
      const cpu = cpuMs(process.pid) - c0;
      await waitFor(`every member stored run ${r}`, () => procs.every((p) => p.done.has(r)), 300_000, 2);
      return { ms: Math.max(...procs.map((p) => p.done.get(r)!)) - start, cpu };
    };
    const toGroup = (n: number) => async (tag: string) => {
      for (let k = 0; k < n; k++) await a.api.call('send', { convId: group.id, text: `${tag}${k} a chat line of a typical length for a team` });
    };
    const toEach = (n: number) => async (tag: string) => {
      for (let k = 0; k < n; k++) for (const conv of direct) await a.api.call('send', { convId: conv, text: `${tag}${k} a chat line of a typical length for a team` });
    };

    // The first message also brings every member the group (an invitation: the create event).
    const joinMs = (await timed(1, toGroup(1))).ms;
    await timed(1, toEach(1));
    const one: number[] = [];
    const oneDirect: number[] = [];
    for (let i = 0; i < REPS; i++) {
      one.push((await timed(1, toGroup(1))).ms);
      oneDirect.push((await timed(1, toEach(1))).ms);
    }
    const batch = await timed(BATCH, toGroup(BATCH));
    const batchDirect = await timed(BATCH, toEach(BATCH));

    const [g, d] = [summarize(one), summarize(oneDirect)];
    printTable(
      `Groups: fan-out to ${MEMBERS} members (real nodes, ${PROCS} processes, each node its own SQLite), median of ${REPS}`,
      [
        { name: 'one message: send → stored by every member, p50 (ms)', value: fmt(g.p50, 1), baseline: `${fmt(d.p50, 1)} as ${MEMBERS} direct messages`, ratio: `${fmt(g.p50 / d.p50, 2)}×`, target: '' },
        { name: 'one message: send → stored by every member, max (ms)', value: fmt(Math.max(...one), 1), baseline: `${fmt(Math.max(...oneDirect), 1)} as ${MEMBERS} direct messages`, ratio: `${fmt(Math.max(...one) / Math.max(...oneDirect), 2)}×`, target: '' },
        { name: 'one message: per member (ms)', value: fmt(g.p50 / MEMBERS, 2), baseline: `${fmt(d.p50 / MEMBERS, 2)} direct`, ratio: '', target: '' },
        { name: `batch of ${BATCH}: send → all stored by every member (ms)`, value: fmt(batch.ms, 0), baseline: `${fmt(batchDirect.ms, 0)} as ${BATCH * MEMBERS} direct messages`, ratio: `${fmt(batch.ms / batchDirect.ms, 2)}×`, target: '' },
        { name: `batch of ${BATCH}: member-messages stored per second`, value: fmt((BATCH * MEMBERS) / (batch.ms / 1000), 0), baseline: `${fmt((BATCH * MEMBERS) / (batchDirect.ms / 1000), 0)} direct`, ratio: `${fmt(batchDirect.ms / batch.ms, 2)}×`, target: '' },
        { name: `batch of ${BATCH}: author CPU while sending (ms)`, value: fmt(batch.cpu, 0), baseline: `${fmt(batchDirect.cpu, 0)} direct`, ratio: `${fmt(batch.cpu / batchDirect.cpu, 2)}×`, target: '' },
      ],
    );
    console.log(`\nSetup (${MEMBERS + 1} nodes started, ${MEMBERS} links, group created) ${fmt(setupSecs, 1)} s; first message with the invitation ${fmt(joinMs, 0)} ms.`);
  } finally {
    for (const p of procs) {
      p.child.kill('SIGTERM');
    }
    await Promise.all(procs.map((p) => (p.child.exitCode === null ? once(p.child, 'exit') : null)));
    await author?.stop();
    removeTempDirs();
  }
}
