// The contract's commands, implemented over a ParleyNode. Arguments are parsed with the
// contract's schemas here, at the core's boundary, whichever host forwarded them.
import {
  commands,
  type CommandName,
  type CommandResult,
  type ConversationInfo,
  type MessageInfo,
  type ParleyApi,
} from '../contract/contract.ts';
import type { z } from 'zod';
import { AttachmentError } from './attachments/service.ts';
import { GroupCommandError } from './groups/service.ts';
import { PeerIdError, parsePeerId } from './identity/peer-id.ts';
import { parseAddress } from './links/link-manager.ts';
import type { ParleyNode } from './node.ts';
import { SettingsError } from './settings.ts';
import type { ConversationSummary, StoredOp } from './store/store.ts';
import { MessageCommandError } from './messaging/messenger.ts';

export class ApiError extends Error {
  readonly code: 'invalid-args' | 'not-found' | 'unavailable' | 'internal';
  constructor(code: ApiError['code'], message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

type Handler<K extends CommandName> = (node: ParleyNode, args: z.output<(typeof commands)[K]['args']>) => CommandResult<K> | Promise<CommandResult<K>>;

function toConversationInfo(node: ParleyNode, conv: ConversationSummary): ConversationInfo {
  if (conv.kind === 'group') {
    const info = node.groups.conversationInfo(conv.id);
    if (!info) throw new ApiError('internal', 'group conversation without its group');
    return info;
  }
  return {
    id: conv.id,
    kind: 'direct',
    peerId: conv.peerId,
    title: node.store.getPeer(conv.peerId)?.name || conv.title,
    unread: conv.unread,
    lastMessage: conv.last ? node.messenger.toInfo(conv.last) : null,
  };
}

function conversationInfo(node: ParleyNode, convId: string): ConversationInfo {
  const conv = node.store.getConversation(convId);
  if (!conv) throw new ApiError('not-found', 'no such conversation');
  if (conv.kind === 'group') return toConversationInfo(node, { ...conv, unread: 0, last: null });
  const selfId = node.identity.id;
  return toConversationInfo(node, { ...conv, unread: node.store.unreadCount(convId, selfId), last: node.store.history(convId, { limit: 1 })[0] ?? null });
}

export const commandHandlers: { [K in CommandName]: Handler<K> } = {
  getSelf: (node) => node.self,
  setProfile: (node, args) => node.setProfile(args),
  listPeers: (node) => node.listPeers(),
  reportActivity: (node, args) => node.reportActivity(args.idleMs),
  setTyping: (node, args) => {
    const conv = node.store.getConversation(args.convId);
    if (!conv) throw new ApiError('not-found', 'no such conversation');
    // Groups have no typing frames (yet): nothing to tell.
    if (conv.kind === 'direct') node.links.get(conv.peerId)?.send({ t: 'typing', conv: conv.id, active: args.typing });
    return { ok: true };
  },
  setAutoAway: (node, args) => {
    updateSettings(node, { autoAwayMs: args.afterMs });
    return { afterMs: node.settings.current.autoAwayMs };
  },
  getSettings: (node) => node.settings.view(),
  updateSettings: async (node, args) => {
    updateSettings(node, args);
    await node.settingsApplied();
    return node.settings.view();
  },
  diagnostics: (node) => node.diagnostics(),
  setVerified: (node, args) => {
    if (args.peerId === node.identity.id) throw new ApiError('invalid-args', 'that is my own ID');
    const info = node.setVerified(args.peerId, args.verified);
    if (!info) throw new ApiError('not-found', 'no such peer');
    return info;
  },
  dismissKeyChange: (node, args) => {
    const info = node.dismissKeyChange(args.peerId);
    if (!info) throw new ApiError('not-found', 'no such peer');
    return info;
  },
  listRelays: (node) => node.relayInfo(),
  addRelay: (node, args) => {
    try {
      node.addRelay(args.address, args.token);
    } catch (err) {
      throw new ApiError('invalid-args', (err as Error).message.replace(/^relays\.\d+\.address /, ''));
    }
    return node.relayInfo();
  },
  addPeer: (node, args) => {
    let id;
    try {
      id = parsePeerId(args.id);
      parseAddress(args.address);
    } catch (err) {
      throw new ApiError('invalid-args', (err as PeerIdError).message);
    }
    if (id === node.identity.id) throw new ApiError('invalid-args', 'that is my own ID');
    node.addCandidate(id, [args.address]);
    return node.peerInfo(node.store.getPeer(id)!);
  },
  listConversations: (node) => node.store.listConversations(node.identity.id).map((c) => toConversationInfo(node, c)),
  openConversation: (node, args) => {
    if (args.peerId === node.identity.id) throw new ApiError('invalid-args', 'cannot open a conversation with myself');
    const conv = node.store.ensureDirectConversation(node.identity.id, args.peerId);
    return conversationInfo(node, conv.id);
  },
  send: async (node, args) => {
    if (node.groups.isGroupConversation(args.convId)) {
      return node.groups.send(args.convId, args.text, { replyTo: args.replyTo, mentions: args.mentions });
    }
    const peerId = node.messenger.peerOf(args.convId);
    if (!peerId) throw new ApiError('not-found', 'no such conversation');
    // Mentions mean nothing between two people: ignored.
    node.messenger.checkReply(args.convId, args.replyTo);
    return node.messenger.send(args.convId, peerId, args.text, args.replyTo ? { replyTo: args.replyTo } : undefined);
  },
  editMessage: (node, args) => opCommand(node, args.messageId, { k: 'edit', target: args.messageId, text: args.text }),
  deleteMessage: (node, args) => opCommand(node, args.messageId, { k: 'delete', target: args.messageId }),
  react: (node, args) => opCommand(node, args.messageId, { k: 'react', target: args.messageId, emoji: args.emoji, on: args.on }),
  broadcast: async (node, args) => {
    // Everyone visible now: peers shown online (a link, or a relay's directory), never myself.
    const self = node.identity.id;
    const recipients = node.listPeers().filter((p) => p.presence !== 'offline' && p.id !== self);
    if (recipients.length === 0) throw new ApiError('unavailable', 'nobody is online to receive a broadcast');
    const sent = await Promise.all(
      recipients.map((p) => {
        const conv = node.store.ensureDirectConversation(self, p.id);
        return node.messenger.send(conv.id, p.id, args.text, { broadcast: true }).then((m) => ({ peerId: p.id, name: p.name, messageId: m.id }));
      }),
    );
    const id = sent[0]!.messageId;
    node.store.rich.insertBroadcast({ id, text: args.text, ts: Date.now(), recipients: sent });
    return node.store.rich.getBroadcast(id)!;
  },
  listBroadcasts: (node, args) => node.store.rich.listBroadcasts(args.limit),
  retry: (node, args) => {
    const m = node.messenger.retry(args.messageId);
    if (!m) throw new ApiError('not-found', 'no such message');
    return m;
  },
  cancel: (node, args) => {
    // A sealed copy at a relay cannot be recalled: the recipient gets it when it comes online,
    // so "canceled" would be a lie to the sender.
    if (node.store.getMessage(args.messageId)?.state === 'stored') {
      throw new ApiError('unavailable', 'this message is stored at the relay and will be delivered when the recipient comes online; it cannot be recalled');
    }
    const m = node.messenger.cancel(args.messageId);
    if (!m) throw new ApiError('not-found', 'no such message');
    return m;
  },
  history: (node, args) => {
    if (!node.store.getConversation(args.convId)) throw new ApiError('not-found', 'no such conversation');
    if ([args.before, args.after, args.around].filter((x) => x !== undefined).length > 1) {
      throw new ApiError('invalid-args', 'history: give at most one of before, after, around');
    }
    return node.store
      .history(args.convId, { before: args.before, after: args.after, around: args.around, limit: args.limit })
      .map((r) => node.groups.decorate(node.messenger.toInfo(r)));
  },
  search: (node, args) =>
    node.store.search(args.query, args.limit).map((h) => ({ message: node.groups.decorate(node.messenger.toInfo(h.message)), snippet: h.snippet })),
  markRead: (node, args) => {
    if (!node.store.getConversation(args.convId)) throw new ApiError('not-found', 'no such conversation');
    return node.messenger.markRead(args.convId, args.upTo);
  },
  createGroup: (node, args) => {
    if (args.members.includes(node.identity.id)) throw new ApiError('invalid-args', 'the creator is a member anyway: name the others');
    return node.groups.create(args.name, args.members);
  },
  renameGroup: (node, args) => node.groups.rename(args.convId, args.name),
  addGroupMembers: (node, args) => node.groups.add(args.convId, args.members),
  removeGroupMember: (node, args) => node.groups.remove(args.convId, args.peerId),
  leaveGroup: (node, args) => node.groups.leave(args.convId),
  sendFile: (node, args) => node.attachments.sendFile(args),
  acceptFile: (node, args) => node.attachments.accept(args.messageId),
  declineFile: (node, args) => node.attachments.decline(args.messageId),
  cancelTransfer: (node, args) => node.attachments.cancel(args.messageId),
  retryTransfer: (node, args) => node.attachments.retry(args.messageId),
  // The desktop shell answers this itself (shell.showItemInFolder with attachments.localPath);
  // a host without a file manager has nothing to show it in.
  showInFolder: () => {
    throw new ApiError('unavailable', 'showing a file in its folder needs the desktop app');
  },
};

/** Edit, delete or react: in a group as an event, in a direct conversation as an op message. */
async function opCommand(node: ParleyNode, messageId: string, op: StoredOp): Promise<MessageInfo> {
  const row = node.store.getMessage(messageId);
  if (!row || row.op !== null) throw new ApiError('not-found', 'no such message');
  if (node.groups.isGroupConversation(row.convId)) return node.groups.op(row.convId, op);
  return node.messenger.sendOp(op);
}



/** The services' own refusals carry their ApiError code: translated here, once, for every command. */
function asApiError(err: unknown): unknown {
  if (err instanceof GroupCommandError || err instanceof MessageCommandError || err instanceof AttachmentError) return new ApiError(err.code, err.message);
  return err;
}

/** A refused value is the caller's mistake: invalid-args, naming the field. */
function updateSettings(node: ParleyNode, update: unknown): void {
  try {
    node.updateSettings(update);
  } catch (err) {
    if (err instanceof SettingsError) throw new ApiError('invalid-args', `updateSettings: ${err.message}`);
    throw err;
  }
}

export function createApi(node: ParleyNode): ParleyApi {
  return {
    async call(name, args) {
      const spec = commands[name];
      if (!spec) throw new ApiError('invalid-args', `unknown command ${String(name)}`);
      const parsed = spec.args.safeParse(args ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new ApiError('invalid-args', `${String(name)}: ${issue ? `${issue.path.join('.') || 'args'} ${issue.message}` : 'invalid arguments'}`);
      }
      const handler = commandHandlers[name] as Handler<typeof name>;
      try {
        return await handler(node, parsed.data as never);
      } catch (err) {
        throw asApiError(err);
      }
    },
    on(event, listener) {
      node.events.on(event, listener as never);
      return () => node.events.off(event, listener as never);
    },
  };
}
