// The web-mode WebSocket protocol: the contract, framed as JSON. The renderer imports only
// the types; the bridge parses every incoming frame with the schema.
import { z } from 'zod';
import type { CommandError, EventName, Events, SelfInfo } from '../contract/contract.ts';

/** Offered by the browser as a WebSocket subprotocol together with `token.<token>`. */
export const WIRE_PROTOCOL = 'parley.v1';
export const TOKEN_PROTOCOL_PREFIX = 'token.';
export const WS_PATH = '/ws';

export const RequestSchema = z
  .object({
    id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    cmd: z.string().min(1).max(64),
    args: z.unknown().optional(),
  })
  .strict();
export type WireRequest = z.infer<typeof RequestSchema>;

export type WireMessage =
  | { type: 'hello'; self: SelfInfo; needsName: boolean }
  | { type: 'result'; id: number | null; ok: true; result: unknown }
  | { type: 'result'; id: number | null; ok: false; error: CommandError }
  | { [E in EventName]: { type: 'event'; event: E; payload: Events[E] } }[EventName];
