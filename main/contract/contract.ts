// The one contract between the core and every UI host (Electron IPC through the preload,
// the web-mode WebSocket bridge, the headless CLI, tests). It imports nothing from Node,
// Electron or the DOM so that the renderer and the preload can share it verbatim.
// Every argument is validated with these schemas where it enters the core; results and
// events are produced by the core itself and only typed.
import { z } from 'zod';

/** Canonical peer ID: 52 base32 characters (SHA-256 of the certificate's SPKI). */
export const PeerIdSchema = z.string().regex(/^[A-Z2-7]{52}$/, 'not a canonical peer ID');
export type PeerId = z.infer<typeof PeerIdSchema>;

export const PresenceSchema = z.enum(['online', 'away', 'busy', 'offline']);
export type Presence = z.infer<typeof PresenceSchema>;

/** Peer-supplied text limits. They also bound what we accept from the network. */
export const LIMITS = {
  displayName: 64,
  statusText: 140,
  messageText: 16_000,
  searchQuery: 256,
  historyPage: 500,
  /** @-mentions in one message. */
  mentions: 32,
  /** Code points of a quoted message shown with a reply. */
  replyExcerpt: 140,
  /** A sender-made preview of an image or video. */
  thumbnailBytes: 48 * 1024,
} as const;

/**
 * Text people type and peers see: well-formed Unicode (no lone surrogates) in NFC, so the same
 * name is the same string on every machine.
 */
export const userText = (max: number, min = 0) =>
  z
    .string()
    .refine((s) => s.isWellFormed(), 'contains an unpaired surrogate')
    .transform((s) => s.normalize('NFC'))
    .pipe(z.string().min(min).max(max));

export const DisplayNameSchema = z
  .string()
  .transform((s) => s.trim())
  .pipe(userText(LIMITS.displayName, 1));
const displayName = DisplayNameSchema;

export type LinkKind = 'direct' | 'relay';
/**
 * Sender-side life of one of my messages: 'pending' (stored here, not on the wire yet), 'sent'
 * (written to a live link, no ack yet), 'stored' (the recipient is online nowhere, and a relay's
 * mailbox accepted a sealed copy for it; still in my outbox, since only the recipient's own ack
 * counts), 'delivered' (the recipient acked it: durably stored there), 'read', 'canceled',
 * 'rejected' (the recipient refused it for good). Received messages are 'delivered' or 'read'.
 */
export type MessageState = 'pending' | 'sent' | 'stored' | 'delivered' | 'read' | 'canceled' | 'rejected';

export interface SelfInfo {
  id: PeerId;
  /** Human-checkable form with check characters, e.g. ABCDEFG-HIJKLMN-... */
  displayId: string;
  shortId: string;
  name: string;
  presence: Presence;
  statusText: string;
  port: number;
  /** host:port of every non-loopback interface, to give to someone adding me by hand. */
  addresses: string[];
  dataDir: string;
}

export interface PeerInfo {
  id: PeerId;
  displayId: string;
  shortId: string;
  name: string;
  presence: Presence;
  statusText: string;
  /** Current verified link, if any. */
  link: LinkKind | null;
  addresses: string[];
  lastSeen: number | null;
  /** Set when something claimed this peer's ID but could not prove it. */
  warning: string | null;
  /**
   * Where the peer is announced right now, link or not: 'lan' when LAN discovery hears it,
   * 'relay' when a connected relay lists it (and LAN discovery does not), else null. A hint for
   * grouping; `link` is what is proven.
   */
  seenVia: 'lan' | 'relay' | null;
  /** The person compared this peer's ID out of band and marked it verified (setVerified). */
  verified: boolean;
  /** This ID carries the name of a known contact with another ID: warn until verified or dismissed. */
  keyChange: KeyChange | null;
}

/** See main/core/trust/key-change.ts for when this is set. */
export interface KeyChange {
  /** The known contact whose name this peer now carries. */
  previousId: PeerId;
  previousName: string;
  /** Whether that contact had been verified. */
  verifiedBefore: boolean;
}

interface ConversationFields {
  id: string;
  title: string;
  unread: number;
  lastMessage: MessageInfo | null;
}

export interface DirectConversationInfo extends ConversationFields {
  kind: 'direct';
  peerId: PeerId;
}

/** A group (main/core/groups/README.md): what its events fold to in this member's copy. */
export interface GroupInfo {
  id: string;
  name: string;
  /** Adds and removes members; null once nobody is left. */
  owner: PeerId | null;
  /** In join order; names as this node knows them (a short ID for someone never met). */
  members: Array<{ id: PeerId; name: string }>;
  /** False after I left or was removed: the history stays, nothing new arrives. */
  isMember: boolean;
}

export interface GroupConversationInfo extends ConversationFields {
  kind: 'group';
  peerId: null;
  group: GroupInfo;
}

export type ConversationInfo = DirectConversationInfo | GroupConversationInfo;

/**
 * A line in a group's history that is not a text: a membership change that took effect, or an
 * event of a later version this one cannot show.
 */
export type GroupChange =
  | { kind: 'created'; name: string; members: PeerId[] }
  | { kind: 'renamed'; name: string }
  | { kind: 'added'; members: PeerId[] }
  | { kind: 'removed'; members: PeerId[] }
  | { kind: 'left' }
  | { kind: 'unsupported'; wireKind: string };

/** A group event refused as not authentic (altered or forged on the way, or an author contradicting itself). */
export interface GroupWarning {
  groupId: string;
  convId: string;
  /** The member that handed it over (for a forwarded event, not its author). */
  from: PeerId | null;
  /** The author it claims: unproven when the signature did not verify. */
  claimedAuthor: PeerId | null;
  reason: 'malformed' | 'wrong-group' | 'bad-signature' | 'conflict' | 'equivocation' | 'bad-genesis' | 'bad-clock' | 'pending-full';
  at: number;
}

export interface MessageInfo {
  id: string;
  convId: string;
  author: PeerId;
  mine: boolean;
  seq: number;
  lamport: number;
  /** Author's wall clock (ms): shown to people, never used for ordering. */
  ts: number;
  text: string;
  /** Sender-side delivery state; for received messages always 'delivered' or 'read'. */
  state: MessageState;
  /** True when one of my messages is still undelivered after the delivery deadline. */
  overdue: boolean;
  /** In a group: set on membership lines (and later kinds), whose `text` is empty. */
  change?: GroupChange;
  // ---- richer messages (issue 6). Absent = none; the renderer treats every one as optional.
  /** The message this one answers, as this node holds it (null fields: not held here). */
  replyTo?: ReplyRef;
  /** People named with @ in a group message (peer IDs, at most LIMITS.mentions). */
  mentions?: PeerId[];
  /** I am among `mentions`: the shell notifies even for a muted group. */
  mentionsMe?: boolean;
  /** The author's wall clock of the latest edit; `text` is then the edited text. */
  editedAt?: number;
  /** The author deleted it: `text` is '' and the attachment gone; the line stays as "deleted". */
  deleted?: boolean;
  /** Reactions, grouped by emoji, in order of first use. */
  reactions?: Reaction[];
  /** Sent as an office-wide broadcast (recipients show the mark). */
  broadcast?: boolean;
  /** A file, image, audio or video sent with this message (text may then be empty). */
  attachment?: AttachmentInfo;
}

export interface ReplyRef {
  id: string;
  /** Null when the quoted message is not in this node's history. */
  author: PeerId | null;
  /** The start of its text (at most LIMITS.replyExcerpt code points), or the attachment's name. */
  excerpt: string;
  deleted?: boolean;
}

export interface Reaction {
  emoji: string;
  by: PeerId[];
  mine: boolean;
}

export type AttachmentKind = 'file' | 'image' | 'audio' | 'video' | 'voice';

export type TransferStateName =
  /** Receiver: waiting for me to accept or decline. Sender: waiting for the peer. */
  | 'offered'
  /** Accepted, waiting for a stream (peer offline, backing off). */
  | 'waiting'
  | 'running'
  | 'done'
  | 'declined'
  | 'canceled'
  | 'failed';

export interface TransferView {
  state: TransferStateName;
  direction: 'send' | 'receive';
  bytesDone: number;
  bytesTotal: number;
  /** Over the last seconds; 0 when not running. */
  bytesPerSec: number;
  /** Null when unknown (not running, or no rate yet). */
  etaMs: number | null;
  /** Why it failed, was canceled or declined (a TransferFailureCode, or 'declined'). */
  reason?: string;
  /** The failure can be retried (disk full freed, peer back, ...). */
  resumable?: boolean;
  /** In a group, a sender's view sums per-recipient transfers: how many finished. */
  recipients?: { done: number; total: number };
}

/**
 * One file's place in a folder sent as one offer per file: the folder's ID (a ULID the sender
 * picks), its top name, this file's sub-path inside it ('' at the top, '/' between levels),
 * and the folder's file count and total bytes.
 */
export const FolderRefSchema = z
  .object({
    id: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/),
    name: userText(255, 1),
    path: userText(4096),
    count: z.number().int().min(1).max(10_000),
    bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();
export type FolderRef = z.infer<typeof FolderRefSchema>;

export interface AttachmentInfo {
  transferId: string;
  /** As the sender named it: display only, the name on disk may differ (safe-name.ts). */
  name: string;
  size: number;
  /** As the sender declared it; the core serves only an allow-listed set inline. */
  mime: string;
  kind: AttachmentKind;
  /** A small preview made by the sender (JPEG, PNG or WebP, at most LIMITS.thumbnailBytes), base64. */
  thumbnail?: string;
  width?: number;
  height?: number;
  durationMs?: number;
  transfer: TransferView;
  /** Part of a folder (as the sender described it: display text only). */
  folder?: FolderRef;
  /**
   * Path the UI fetches the bytes from (same origin: '/media/<messageId>' in web mode and in
   * the desktop shell's custom protocol), once the bytes are here: sender's own file or a
   * received one that is done. Null otherwise.
   */
  url: string | null;
}

/** A broadcast I sent: one direct message per recipient, each with its own delivery state. */
export interface BroadcastInfo {
  id: string;
  text: string;
  ts: number;
  recipients: Array<{ peerId: PeerId; name: string; messageId: string; state: MessageState }>;
}

export interface SearchHit {
  message: MessageInfo;
  /** Text with matches wrapped in \u0002 … \u0003 so the UI can highlight without HTML. */
  snippet: string;
}

// ---- settings --------------------------------------------------------------------------

/** Ones the core keeps (the theme and the language are per screen, kept by the renderer). */
export interface Settings {
  /** Switch to "away" after this long without user activity; 0 = never. */
  autoAwayMs: number;
  notifications: {
    enabled: boolean;
    /** Message text in the notification, or only who wrote. */
    showPreview: boolean;
    mutedConversations: string[];
  };
  /** The token is a secret: the core keeps it and only says whether there is one. */
  relays: Array<{ address: string; hasToken: boolean }>;
  /** Interfaces LAN discovery announces on; empty = every suitable one. */
  interfaces: string[];
  /** Where received files go; null = the system's Downloads folder. */
  downloadFolder: string | null;
  /** Applied by the desktop shell (login item); other hosts ignore it. */
  startAtLogin: boolean;
  /**
   * Files offered to me are accepted without asking when at most this size: `peers` per
   * contact (peer ID → bytes), else `defaultMaxBytes`. 0 = always ask.
   */
  autoAccept: { defaultMaxBytes: number; peers: Record<PeerId, number> };
  /** Fields whose value this run comes from a command-line flag (--auto-away, --relay, --interfaces) until changed here. */
  overridden: Array<'autoAwayMs' | 'relays' | 'interfaces'>;
}

export const SETTINGS_LIMITS = {
  autoAwayMaxMs: 24 * 3600 * 1000,
  relays: 16,
  relayToken: 200,
  interfaces: 64,
  mutedConversations: 1000,
  path: 4096,
  autoAcceptMaxBytes: 64 * 1024 ** 3,
  autoAcceptPeers: 1000,
} as const;

const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

/**
 * A partial update: fields left out keep their value, and so do the notification fields left
 * out. A relay listed without `token` keeps the token it has (the UI never sees it); `null` or
 * '' removes it. The core checks the rest (relay addresses parse, the folder is absolute).
 */
export const SettingsUpdateSchema = z
  .object({
    autoAwayMs: z.number().int().min(0).max(SETTINGS_LIMITS.autoAwayMaxMs, 'at most 24 hours'),
    notifications: z
      .object({
        enabled: z.boolean(),
        showPreview: z.boolean(),
        mutedConversations: z.array(z.string().min(1).max(200)).max(SETTINGS_LIMITS.mutedConversations),
      })
      .partial()
      .strict(),
    relays: z
      .array(
        z
          .object({
            address: z.string().trim().min(1, 'the relay address is empty').max(400),
            token: z.string().max(SETTINGS_LIMITS.relayToken).nullable().optional(),
          })
          .strict(),
      )
      .max(SETTINGS_LIMITS.relays, `at most ${SETTINGS_LIMITS.relays} relays`),
    interfaces: z
      .array(z.string().trim().min(1).max(64).refine(noControl, 'not an interface name'))
      .max(SETTINGS_LIMITS.interfaces),
    downloadFolder: z.string().min(1).max(SETTINGS_LIMITS.path).refine(noControl, 'contains control characters').nullable(),
    startAtLogin: z.boolean(),
    autoAccept: z
      .object({
        defaultMaxBytes: z.number().int().min(0).max(SETTINGS_LIMITS.autoAcceptMaxBytes),
        /** Replaces the whole per-contact table. */
        peers: z.record(PeerIdSchema, z.number().int().min(0).max(SETTINGS_LIMITS.autoAcceptMaxBytes)).refine((r) => Object.keys(r).length <= SETTINGS_LIMITS.autoAcceptPeers, 'too many contacts'),
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict();
export type SettingsUpdate = z.input<typeof SettingsUpdateSchema>;

// ---- commands --------------------------------------------------------------------------

const convRef = z.object({ convId: z.string().min(1).max(200) });
const ulidArg = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/);
const messageRef = z.object({ messageId: ulidArg });
/** One emoji (or a short sequence such as a flag or a skin-tone variant): 1..16 code points, no text. */
const emojiArg = z
  .string()
  .min(1)
  .max(32)
  .refine((s) => /^\p{Extended_Pictographic}|^[\u{1F1E6}-\u{1F1FF}]/u.test(s) && !/[\p{L}\p{N}\s]/u.test(s.replace(/[#*0-9]\uFE0F?\u20E3/gu, '')), 'not an emoji');

export const commands = {
  getSelf: { args: z.object({}), result: z.custom<SelfInfo>() },
  setProfile: {
    args: z
      .object({
        name: displayName.optional(),
        presence: PresenceSchema.exclude(['offline']).optional(),
        statusText: userText(LIMITS.statusText).optional(),
      })
      .strict(),
    result: z.custom<SelfInfo>(),
  },
  listPeers: { args: z.object({}), result: z.custom<PeerInfo[]>() },
  /** Add a peer by address and expected ID (its display form is accepted too). */
  addPeer: {
    args: z.object({
      address: z.string().min(3).max(300),
      id: z.string().min(52).max(80),
    }),
    result: z.custom<PeerInfo>(),
  },
  listConversations: { args: z.object({}), result: z.custom<ConversationInfo[]>() },
  /** Open (or create) the direct conversation with a peer. */
  openConversation: { args: z.object({ peerId: PeerIdSchema }), result: z.custom<ConversationInfo>() },
  send: {
    args: z.object({
      convId: z.string().min(1).max(200),
      text: userText(LIMITS.messageText, 1),
      /** Quote this message (same conversation). */
      replyTo: ulidArg.optional(),
      /** Group members named with @ (ignored in a direct conversation). */
      mentions: z.array(PeerIdSchema).max(LIMITS.mentions).optional(),
    }),
    result: z.custom<MessageInfo>(),
  },
  /** Replace the text of one of my messages; everyone's copy updates, the line shows "edited". */
  editMessage: { args: messageRef.extend({ text: userText(LIMITS.messageText, 1) }).strict(), result: z.custom<MessageInfo>() },
  /** Delete one of my messages for everyone; the line stays as "deleted". */
  deleteMessage: { args: messageRef.strict(), result: z.custom<MessageInfo>() },
  /** Add (on) or remove my reaction to any message I can see. */
  react: { args: messageRef.extend({ emoji: emojiArg, on: z.boolean() }).strict(), result: z.custom<MessageInfo>() },
  /** One announcement to every peer visible now, as a direct message to each, marked broadcast. */
  broadcast: { args: z.object({ text: userText(LIMITS.messageText, 1) }).strict(), result: z.custom<BroadcastInfo>() },
  /** My broadcasts, newest first, with per-recipient delivery state. */
  listBroadcasts: { args: z.object({ limit: z.number().int().min(1).max(200).default(50) }), result: z.custom<BroadcastInfo[]>() },
  /**
   * Offer a file in a conversation. `upload` names bytes the UI posted to '/upload' (every
   * host serves it: web mode over HTTP, the desktop shell on its custom protocol).
   */
  sendFile: {
    args: z
      .object({
        convId: z.string().min(1).max(200),
        upload: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/),
        kind: z.enum(['file', 'image', 'audio', 'video', 'voice']).default('file'),
        /** base64 of a JPEG/PNG/WebP preview the UI made (checked by the core). */
        thumbnail: z.string().max(Math.ceil((LIMITS.thumbnailBytes * 4) / 3) + 4).optional(),
        width: z.number().int().min(1).max(100_000).optional(),
        height: z.number().int().min(1).max(100_000).optional(),
        durationMs: z.number().int().min(0).max(24 * 3600 * 1000).optional(),
        text: userText(LIMITS.messageText).optional(),
        replyTo: ulidArg.optional(),
        /** Part of a folder: every file of it is sent with the same descriptor (a fresh ULID per folder). */
        folder: FolderRefSchema.optional(),
      })
      .strict(),
    result: z.custom<MessageInfo>(),
  },
  /** Accept a file offered to me; it goes to the download folder. A folder's file: the whole folder. */
  acceptFile: { args: messageRef.strict(), result: z.custom<MessageInfo>() },
  declineFile: { args: messageRef.strict(), result: z.custom<MessageInfo>() },
  /** Either side stops a transfer for good (the receiver's partial file is removed). */
  cancelTransfer: { args: messageRef.strict(), result: z.custom<MessageInfo>() },
  /** Try a failed, resumable transfer again now. */
  retryTransfer: { args: messageRef.strict(), result: z.custom<MessageInfo>() },
  /** Desktop only: show a received file in the system's file manager (never opens it). */
  showInFolder: { args: messageRef.strict(), result: z.custom<{ ok: true }>() },
  retry: { args: messageRef, result: z.custom<MessageInfo>() },
  cancel: { args: messageRef, result: z.custom<MessageInfo>() },
  history: {
    args: convRef.extend({
      /** Return messages strictly before this one (newest page when absent). */
      before: z.string().max(40).optional(),
      /** Or: messages strictly after this one (scrolling down from a search hit). */
      after: z.string().max(40).optional(),
      /** Or: this message with half a page on either side (jumping to a search hit). */
      around: z.string().max(40).optional(),
      limit: z.number().int().min(1).max(LIMITS.historyPage).default(50),
    }),
    /** Oldest first. */
    result: z.custom<MessageInfo[]>(),
  },
  search: {
    args: z.object({ query: z.string().trim().min(1).max(LIMITS.searchQuery), limit: z.number().int().min(1).max(200).default(50) }),
    result: z.custom<SearchHit[]>(),
  },
  markRead: { args: convRef.extend({ upTo: z.string().max(40) }), result: z.custom<{ unread: number }>() },
  /** The composer has text being typed (true) or was cleared/sent/left (false). */
  setTyping: { args: convRef.extend({ typing: z.boolean() }), result: z.custom<{ ok: true }>() },
  /** The host reports how long the user has been idle; drives auto-away. */
  reportActivity: { args: z.object({ idleMs: z.number().int().min(0).max(2 ** 31) }), result: z.custom<SelfInfo>() },
  /** The core's settings (the same as `getSettings().autoAwayMs`); 0 turns auto-away off. */
  setAutoAway: { args: z.object({ afterMs: z.number().int().min(0).max(24 * 3600 * 1000) }), result: z.custom<{ afterMs: number }>() },
  /** Relays this node is attached to: connection state and who else is there. */
  listRelays: { args: z.object({}), result: z.custom<RelayInfo[]>() },
  /** Attach to a relay and keep it in the settings (the same address again replaces its token). */
  addRelay: {
    args: z.object({ address: z.string().min(10).max(400), token: z.string().max(200).optional() }),
    result: z.custom<RelayInfo[]>(),
  },
  /** Mark a peer's ID as compared out of band (or take that back); verifying clears a key-change warning. */
  setVerified: { args: z.object({ peerId: PeerIdSchema, verified: z.boolean() }).strict(), result: z.custom<PeerInfo>() },
  /** Hide a key-change warning without verifying (it comes back only if the peer renames again). */
  dismissKeyChange: { args: z.object({ peerId: PeerIdSchema }).strict(), result: z.custom<PeerInfo>() },
  /** Why someone may be invisible: interfaces announced, what discovery hears, link states. */
  diagnostics: { args: z.object({}), result: z.custom<DiagnosticsInfo>() },
  getSettings: { args: z.object({}), result: z.custom<Settings>() },
  /**
   * Founds a group with me as owner. Members must have linked to this node once (their
   * certificate, proven in a TLS handshake, goes into the group so every member can check them).
   */
  createGroup: {
    args: z.object({ name: displayName, members: z.array(PeerIdSchema).min(1).max(255) }).strict(),
    result: z.custom<GroupConversationInfo>(),
  },
  renameGroup: { args: convRef.extend({ name: displayName }).strict(), result: z.custom<GroupConversationInfo>() },
  /** Owner only; same rule for certificates as createGroup. */
  addGroupMembers: { args: convRef.extend({ members: z.array(PeerIdSchema).min(1).max(255) }).strict(), result: z.custom<GroupConversationInfo>() },
  /** Owner only. The removed member receives its removal, and nothing after it. */
  removeGroupMember: { args: convRef.extend({ peerId: PeerIdSchema }).strict(), result: z.custom<GroupConversationInfo>() },
  leaveGroup: { args: convRef.strict(), result: z.custom<GroupConversationInfo>() },
  /** Stores the changes and applies them at once (relays attach or detach, discovery rebinds); returns all settings. */
  updateSettings: { args: SettingsUpdateSchema, result: z.custom<Settings>() },
} as const;

export interface RelayInfo {
  address: string;
  state: 'idle' | 'connecting' | 'connected' | 'wrong-token' | 'wrong-relay-id' | 'unreachable' | 'refused' | 'stopped';
  detail: string;
  retryAt: number | null;
  /** Peers connected to the same relay: how two offices find each other. */
  members: Array<{ id: PeerId; name: string; presence: Presence }>;
}

export interface DiagnosticsInfo {
  self: { id: PeerId; port: number; addresses: string[] };
  discovery: {
    enabled: boolean;
    interfaces: Array<{ name: string; addresses: string[]; beacon: boolean; mdns: boolean }>;
    skippedInterfaces: Array<{ name: string; reason: string }>;
    beacon: { sent: number; received: number; accepted: number; dropped: number } | null;
    mdns: { received: number; sent: number } | null;
    warnings: Array<{ id: PeerId; address: string; message: string; at: number }>;
    hints: string[];
  };
  links: Array<{ peerId: PeerId; kind: LinkKind; direction: 'in' | 'out'; remote: string }>;
}

export type Commands = typeof commands;
export type CommandName = keyof Commands;
export type CommandArgs<K extends CommandName> = z.input<Commands[K]['args']>;
export type CommandResult<K extends CommandName> = z.infer<Commands[K]['result']>;
export const commandNames = Object.keys(commands) as CommandName[];

// ---- events ----------------------------------------------------------------------------

export interface Events {
  /** A message was stored (sent by me or received), or my message's delivery state changed. */
  message: MessageInfo;
  /**
   * A message stored earlier changed: edited, deleted, reacted to, or its attachment's
   * transfer moved. Never a new message: not unread, never notified.
   */
  messageChanged: MessageInfo;
  /** A peer appeared, changed presence/name, or its link went up or down. */
  peer: PeerInfo;
  /** My own profile changed. */
  self: SelfInfo;
  /** The peer read my messages up to and including `upTo`. */
  read: { convId: string; peerId: PeerId; upTo: string };
  /** The peer started or stopped typing; `typing: true` expires by itself after a few seconds. */
  typing: { convId: string; peerId: PeerId; typing: boolean };
  /** A relay's connection state or directory changed. */
  relay: RelayInfo[];
  /** The settings changed (from any host). */
  settings: Settings;
  /** A group conversation appeared (created, or an invitation arrived) or its name or members changed. */
  conversation: ConversationInfo;
  /** A group event was refused as altered or forged (see GroupWarning). */
  groupWarning: GroupWarning;
  /** Messages left a group's history: a late membership event voided them (groups/README.md). */
  messagesHidden: { convId: string; ids: string[] };
  /** The host asks the UI to show a conversation (a notification was clicked). Never emitted by the core. */
  open: { convId: string };
  /**
   * A transfer moved (at most a few times a second per transfer while running). Changes of
   * state also come as a `message` event with the whole MessageInfo.
   */
  transfer: { messageId: string; convId: string; transfer: TransferView };
  /** A broadcast I sent changed (a recipient's delivery state). */
  broadcast: BroadcastInfo;
}
export type EventName = keyof Events;
export const eventNames: EventName[] = ['message', 'messageChanged', 'peer', 'self', 'read', 'typing', 'relay', 'settings', 'conversation', 'groupWarning', 'messagesHidden', 'open', 'transfer', 'broadcast'];

/** What every host implements: call a command, subscribe to events. */
export interface ParleyApi {
  call<K extends CommandName>(name: K, args: CommandArgs<K>): Promise<CommandResult<K>>;
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void;
}

export type CommandError = { code: 'invalid-args' | 'not-found' | 'unavailable' | 'internal'; message: string };
