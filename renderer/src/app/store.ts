// The renderer's state: what the core told us, plus what is on screen. One mutable object
// with a version counter, read through useSyncExternalStore; arrays inside are replaced, never
// mutated, so memoised views can compare by identity.
import {
  LIMITS,
  type AttachmentKind,
  type BroadcastInfo,
  type CommandArgs,
  type ConversationInfo,
  type DirectConversationInfo,
  type FolderRef,
  type GroupConversationInfo,
  type MessageInfo,
  type PeerId,
  type PeerInfo,
  type RelayInfo,
  type SelfInfo,
  type Settings,
  type SettingsUpdate,
  type TransferView,
} from '../../../main/contract/contract.ts';
import type { ConnectionState, Transport } from '../transport/transport.ts';
import { cleanPeer, cleanSelf } from './labels.ts';
import { appendPage, compareMessages, fitsWindow, prependPage, upsertMessage } from './order.ts';
import { loadDrafts, saveDrafts } from './prefs.ts';

export interface ConvView {
  info: ConversationInfo;
  /** Oldest first; null until the conversation was opened. */
  messages: MessageInfo[] | null;
  hasOlder: boolean;
  loadingOlder: boolean;
  /** True while the loaded window ends before the newest message (after a jump to a search hit). */
  hasNewer: boolean;
  loadingNewer: boolean;
  /** Bumped when the loaded window is replaced rather than extended: the list starts afresh. */
  window: number;
  /** Follow rows appended at the end while at the bottom: yes for live messages, no for a page loaded by scrolling down. */
  followAppends: boolean;
  /** The first message under the "new messages" line, fixed when the conversation opens. */
  firstUnreadId: string | null;
}

const isDirect = (c: ConversationInfo): c is DirectConversationInfo => c.kind === 'direct';

export const isGroup = (c: ConversationInfo): c is GroupConversationInfo => c.kind === 'group';

function convView(info: ConversationInfo): ConvView {
  return { info, messages: null, hasOlder: true, loadingOlder: false, hasNewer: false, loadingNewer: false, window: 0, followAppends: true, firstUnreadId: null };
}

export interface Notice {
  id: number;
  text: string;
  /** An error is shown as "Something went wrong: …"; a warning is already a sentence. */
  kind?: 'error' | 'warning';
}

/** A refused group event, for the sentence: who handed it over, in which group, and whether the signature failed. */
export interface GroupWarningText {
  name: string;
  group: string;
  forged: boolean;
}

export interface FocusTarget {
  convId: string;
  messageId: string;
  nonce: number;
}

const PAGE = 200;
/**
 * The most messages one conversation keeps loaded. Scrolling on drops the far end of the
 * window (it loads again when scrolled back), so the list's per-page work and the memory stay
 * the same at message 100,000 as at message 2,000.
 */
export const MAX_LOADED = 2_000;
/** `history` with `around` returns this many older messages before the one asked for. */
/** How many of the most recently active conversations are loaded before they are opened. */
const PREFETCH_CONVERSATIONS = 3;
const AROUND_HALF = Math.max(1, Math.floor(PAGE / 2));
/** Web mode tells the core about activity in the page at most this often (auto-away). */
const ACTIVITY_EVERY_MS = 15_000;

export class AppStore {
  version = 0;
  self: SelfInfo | null = null;
  needsName = false;
  connection: ConnectionState = 'connecting';
  readonly peers = new Map<PeerId, PeerInfo>();
  readonly convs = new Map<string, ConvView>();
  selectedPeerId: PeerId | null = null;
  /** The open group conversation; a direct one is selected by its peer (selectedPeerId). */
  selectedGroupId: string | null = null;
  /** Set by the message list: new incoming messages count as read only when this is true. */
  atBottom = true;
  focus: FocusTarget | null = null;
  notices: Notice[] = [];
  readonly drafts = loadDrafts();
  /** Incoming messages that arrived while the person was scrolled up, per conversation. */
  readonly arrivedBelow = new Map<string, number>();
  /** Who is typing in which conversation (the core expires a silent "typing" by itself). */
  readonly typing = new Map<string, readonly PeerId[]>();
  /** The core's settings (theme and language are prefs.ts, per screen). */
  settings: Settings | null = null;
  relays: RelayInfo[] = [];
  /** Per conversation: the message the composer answers (reply) or replaces (edit). */
  readonly replying = new Map<string, MessageInfo>();
  readonly editing = new Map<string, MessageInfo>();
  /** My broadcasts, newest first; null until the broadcasts view asked for them. */
  broadcasts: BroadcastInfo[] | null = null;
  /** Files being posted to the host before they become offers, per conversation. */
  readonly uploading = new Map<string, readonly string[]>();

  private readonly transport: Transport;
  private readonly listeners = new Set<() => void>();
  private notifyScheduled = false;
  private nextNotice = 1;
  private nonce = 0;
  private draftTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly prefetching = new Map<string, Promise<void>>();

  constructor(transport: Transport) {
    this.transport = transport;
  }

  get api(): Transport {
    return this.transport;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  };

  getVersion = (): number => this.version;

  private changed(): void {
    this.version++;
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      for (const l of this.listeners) l();
    });
  }

  async start(): Promise<void> {
    this.transport.on('message', (m) => this.onMessage(m));
    this.transport.on('messageChanged', (m) => this.onMessage(m, true));
    this.transport.on('peer', (p) => {
      this.peers.set(p.id, cleanPeer(p));
      // Typing travels over the link; without one, nobody can still be typing.
      if (!p.link) this.clearTyping(p.id);
      this.changed();
    });
    this.transport.on('typing', (e) => this.onTyping(e.convId, e.peerId, e.typing));
    // The desktop shell: a notification for this conversation was clicked.
    this.transport.on('open', ({ convId }) => {
      const conv = this.convs.get(convId);
      if (conv && conv.info.kind === 'direct') void this.select(conv.info.peerId);
      else if (conv) void this.selectGroup(conv.info.id);
    });
    this.transport.on('conversation', (c) => this.upsertConv(c));
    this.transport.on('transfer', (e) => this.onTransfer(e.convId, e.messageId, e.transfer));
    this.transport.on('broadcast', (b) => {
      if (!this.broadcasts) return;
      const rest = this.broadcasts.filter((x) => x.id !== b.id);
      this.broadcasts = [b, ...rest].sort((x, y) => y.ts - x.ts);
      this.changed();
    });
    this.transport.on('messagesHidden', ({ convId, ids }) => {
      const conv = this.convs.get(convId);
      if (!conv) return;
      const gone = new Set(ids);
      if (conv.messages) conv.messages = conv.messages.filter((m) => !gone.has(m.id));
      if (conv.info.lastMessage && gone.has(conv.info.lastMessage.id)) {
        conv.info = { ...conv.info, lastMessage: conv.messages?.[conv.messages.length - 1] ?? null };
      }
      this.changed();
    });
    this.transport.on('groupWarning', (w) => {
      const from = w.from ? this.peers.get(w.from)?.name || w.from.slice(0, 7) : '?';
      const conv = this.convs.get(w.convId);
      const group = conv?.info.kind === 'group' ? conv.info.title : w.groupId.slice(0, 7);
      this.warn({ name: from, group, forged: w.reason === 'bad-signature' });
    });
    this.transport.on('self', (s) => {
      this.self = cleanSelf(s);
      this.changed();
    });
    this.transport.on('settings', (s) => {
      this.settings = s;
      this.changed();
    });
    this.transport.on('relay', (r) => {
      this.relays = r;
      this.changed();
    });
    // Drafts are saved lazily; don't lose the last keystrokes to a reload or quit.
    window.addEventListener('pagehide', () => saveDrafts(this.drafts));
    const recheck = () => void this.markRead();
    window.addEventListener('focus', recheck);
    document.addEventListener('visibilitychange', recheck);
    let wasOpen = false;
    this.transport.onState((s) => {
      this.connection = s;
      this.changed();
      if (s === 'open' && !wasOpen && this.self) void this.resync();
      wasOpen = s === 'open';
    });
    const hello = await this.transport.hello();
    this.self = cleanSelf(hello.self);
    this.needsName = hello.needsName;
    if (this.transport.kind === 'web') this.reportActivityFromPage();
    await this.resync();
  }

  /** Reloads everything the core knows (first start and after a reconnect). */
  async resync(): Promise<void> {
    const [self, peers, convs, settings, relays] = await Promise.all([
      this.transport.call('getSelf', {}),
      this.transport.call('listPeers', {}),
      this.transport.call('listConversations', {}),
      this.transport.call('getSettings', {}),
      this.transport.call('listRelays', {}),
    ]);
    this.self = cleanSelf(self);
    this.settings = settings;
    this.relays = relays;
    this.peers.clear();
    // Events were missed while disconnected, a "stopped typing" among them perhaps.
    this.typing.clear();
    for (const p of peers) this.peers.set(p.id, cleanPeer(p));
    for (const c of convs) {
      const existing = this.convs.get(c.id);
      if (existing) existing.info = c;
      else this.convs.set(c.id, convView(c));
    }
    this.changed();
    const selected = this.selectedConv();
    if (selected) {
      // Missed events while disconnected: reload the open conversation from its newest page.
      selected.messages = null;
      await this.loadNewest(selected);
    }
    this.prefetchRecent();
  }

  /**
   * Loads the newest page of the few most recently active conversations in the background,
   * so that opening one of them (what people do first after starting the app) only renders.
   */
  private prefetchRecent(): void {
    const recent = [...this.convs.values()]
      .filter((c) => !c.messages && c.info.lastMessage && !this.prefetching.has(c.info.id))
      .sort((a, b) => b.info.lastMessage!.ts - a.info.lastMessage!.ts)
      .slice(0, PREFETCH_CONVERSATIONS);
    for (const conv of recent) {
      const done = this.loadNewest(conv)
        .catch(() => {
          // Only a head start: opening the conversation loads it again.
        })
        .finally(() => this.prefetching.delete(conv.info.id));
      this.prefetching.set(conv.info.id, done);
    }
  }

  /**
   * Set by the UI: a group warning as a sentence in the current language. `forged`: the
   * signature failed (altered or forged on the way); otherwise the fault may be the author's.
   */
  warningText: (w: GroupWarningText) => string = (w) => w.name;

  private warn(w: GroupWarningText): void {
    const text = this.warningText(w);
    // One crafted frame can carry 256 refused events: the same sentence once is enough.
    if (this.notices.some((n) => n.text === text)) return;
    this.notify(text, 'warning');
  }

  /** A group conversation appeared or changed (name, members, membership). */
  upsertConv(c: ConversationInfo): void {
    const existing = this.convs.get(c.id);
    // The summary's unread count and last message are the core's; keep what events added since.
    if (existing) existing.info = { ...c, lastMessage: c.lastMessage ?? existing.info.lastMessage };
    else this.convs.set(c.id, convView(c));
    this.changed();
  }

  groupConvs(): ConvView[] {
    return [...this.convs.values()].filter((c) => c.info.kind === 'group');
  }

  /** Whether this conversation is the one on screen. */
  isOpen(conv: ConvView): boolean {
    return conv.info.kind === 'group' ? this.selectedGroupId === conv.info.id : this.selectedGroupId === null && conv.info.peerId === this.selectedPeerId;
  }

  notify(text: string, kind: 'error' | 'warning' = 'error'): void {
    const id = this.nextNotice++;
    this.notices = [...this.notices, { id, text, kind }].slice(-3);
    this.changed();
    setTimeout(() => this.dismiss(id), 8000);
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.changed();
  }

  convForPeer(peerId: PeerId): ConvView | undefined {
    for (const c of this.convs.values()) if (c.info.kind === 'direct' && c.info.peerId === peerId) return c;
    return undefined;
  }

  selectedConv(): ConvView | undefined {
    if (this.selectedGroupId) return this.convs.get(this.selectedGroupId);
    return this.selectedPeerId ? this.convForPeer(this.selectedPeerId) : undefined;
  }

  async selectGroup(convId: string): Promise<void> {
    const conv = this.convs.get(convId);
    if (!conv) return;
    if (this.selectedGroupId === convId && conv.messages) return;
    this.selectedGroupId = convId;
    this.selectedPeerId = null;
    await this.opened(conv);
  }

  async select(peerId: PeerId): Promise<void> {
    if (this.selectedGroupId === null && this.selectedPeerId === peerId && this.selectedConv()?.messages) return;
    this.selectedGroupId = null;
    this.selectedPeerId = peerId;
    this.atBottom = true;
    // A search jump belongs to the visit it was made in.
    this.focus = null;
    this.changed();
    let conv = this.convForPeer(peerId);
    if (!conv) {
      const info = await this.transport.call('openConversation', { peerId });
      if (!isDirect(info)) return;
      conv = this.convs.get(info.id) ?? convView(info);
      this.convs.set(info.id, conv);
    }
    await this.opened(conv);
  }

  private async opened(conv: ConvView): Promise<void> {
    this.atBottom = true;
    this.focus = null;
    this.changed();
    this.arrivedBelow.delete(conv.info.id);
    // Coming back to a conversation left mid-history (at a search hit) opens it at its end.
    if (conv.hasNewer) conv.messages = null;
    if (!conv.messages) await this.prefetching.get(conv.info.id);
    if (!conv.messages) await this.loadNewest(conv);
    else {
      conv.firstUnreadId = firstUnread(conv.messages, conv.info.unread);
      this.changed();
    }
    await this.markRead(conv);
  }

  private async loadNewest(conv: ConvView): Promise<void> {
    const limit = Math.min(LIMITS.historyPage, Math.max(PAGE, conv.info.unread + 20));
    const page = await this.transport.call('history', { convId: conv.info.id, limit });
    // Events may have arrived while the page was in flight: merge rather than overwrite.
    let list = page;
    if (!conv.hasNewer) for (const m of conv.messages ?? []) list = upsertMessage(list, m);
    conv.messages = list;
    conv.hasOlder = page.length === limit;
    conv.hasNewer = false;
    conv.window++;
    conv.followAppends = true;
    conv.firstUnreadId = firstUnread(list, conv.info.unread);
    this.changed();
  }

  /** "Jump to latest" from a window that stops short of the newest message: load the end afresh. */
  async showLatest(convId: string): Promise<void> {
    const conv = this.convs.get(convId);
    if (!conv) return;
    try {
      const page = await this.transport.call('history', { convId, limit: PAGE });
      conv.messages = page;
      conv.hasOlder = page.length === PAGE;
      conv.hasNewer = false;
      conv.window++;
      conv.followAppends = true;
      conv.firstUnreadId = null;
      if (this.focus?.convId === convId) this.focus = null;
      this.arrivedBelow.delete(convId);
      this.atBottom = true;
      this.changed();
      await this.markRead(conv);
    } catch (err) {
      this.notify((err as Error).message);
    }
  }

  /** The page after the loaded window, when scrolling down from a search hit. */
  async loadNewer(convId: string): Promise<number> {
    const conv = this.convs.get(convId);
    if (!conv?.messages || !conv.hasNewer || conv.loadingNewer) return 0;
    const newest = conv.messages[conv.messages.length - 1];
    if (!newest) return 0;
    conv.loadingNewer = true;
    this.changed();
    try {
      const page = await this.transport.call('history', { convId, after: newest.id, limit: LIMITS.historyPage });
      // The window was replaced meanwhile (a jump, "jump to latest"): this page belongs to no gap-free list.
      if (conv.messages?.[conv.messages.length - 1]?.id !== newest.id) return 0;
      const before = conv.messages.length;
      let list = appendPage(conv.messages, page);
      const added = list.length - before;
      if (list.length > MAX_LOADED) {
        list = list.slice(list.length - MAX_LOADED);
        conv.hasOlder = true;
      }
      conv.messages = list;
      conv.hasNewer = page.length === LIMITS.historyPage;
      // A page is not news: the reader stays where they are rather than being carried to its end.
      conv.followAppends = false;
      return added;
    } finally {
      conv.loadingNewer = false;
      this.changed();
    }
  }

  async loadOlder(convId: string): Promise<number> {
    const conv = this.convs.get(convId);
    if (!conv?.messages || !conv.hasOlder || conv.loadingOlder) return 0;
    const oldest = conv.messages[0];
    if (!oldest) return 0;
    conv.loadingOlder = true;
    this.changed();
    try {
      const page = await this.transport.call('history', { convId, before: oldest.id, limit: LIMITS.historyPage });
      // As in loadNewer: only onto the window it was asked for.
      if (conv.messages?.[0]?.id !== oldest.id) return 0;
      const before = conv.messages.length;
      let list = prependPage(page, conv.messages);
      const added = list.length - before;
      if (list.length > MAX_LOADED) {
        list = list.slice(0, MAX_LOADED);
        conv.hasNewer = true;
      }
      conv.messages = list;
      conv.hasOlder = page.length === LIMITS.historyPage;
      return added;
    } finally {
      conv.loadingOlder = false;
      this.changed();
    }
  }

  private markingRead = false;
  private markAgain = false;

  /**
   * Marks the open conversation read when the person can see its end. A burst of incoming
   * messages makes one call in flight plus at most one more, not one per message.
   */
  async markRead(conv: ConvView | undefined = this.selectedConv()): Promise<void> {
    if (!conv?.messages || conv.hasNewer || !this.atBottom || !isVisible()) return;
    if (!this.isOpen(conv) || conv.info.unread === 0) return;
    if (this.markingRead) {
      this.markAgain = true;
      return;
    }
    const lastIncoming = findLast(conv.messages, (m) => !m.mine);
    if (!lastIncoming) return;
    this.markingRead = true;
    try {
      const { unread } = await this.transport.call('markRead', { convId: conv.info.id, upTo: lastIncoming.id });
      // Messages that arrived during the call are counted on top of what the core reported.
      conv.info = { ...conv.info, unread: unread + incomingAfter(conv.messages ?? [], lastIncoming.id) };
      this.changed();
    } catch {
      // Tried again on the next message, scroll or focus.
    } finally {
      this.markingRead = false;
    }
    if (this.markAgain) {
      this.markAgain = false;
      await this.markRead();
    }
  }

  setAtBottom(atBottom: boolean): void {
    if (this.atBottom === atBottom) return;
    this.atBottom = atBottom;
    const conv = this.selectedConv();
    if (atBottom && conv) {
      this.arrivedBelow.delete(conv.info.id);
      void this.markRead(conv);
    }
    this.changed();
  }

  /** `changed`: the core said this is a message stored earlier (edited, reacted to, ...), not a new one. */
  private onMessage(m: MessageInfo, changed = false): void {
    const conv = this.convs.get(m.convId);
    if (!conv) {
      // A conversation started by the other side: fetch its summary.
      void this.transport.call('listConversations', {}).then((all) => {
        for (const c of all) if (!this.convs.has(c.id)) this.convs.set(c.id, convView(c));
        this.changed();
      });
      return;
    }
    const last = conv.info.lastMessage;
    const isNewest = !last || last.id === m.id || compareMessages(last, m) <= 0;
    let info = conv.info;
    if (isNewest) info = { ...info, lastMessage: m };
    // A received message is stored once; changes to it (an edit, a deletion, a reaction, a
    // transfer moving) come as messageChanged and are neither new nor unread.
    const known = changed || last?.id === m.id || !!conv.messages?.some((x) => x.id === m.id);
    this.composerTargetChanged(m);
    // Events for received messages fire once, when stored; so each one is new and unread
    // until markRead says otherwise (the core counts it the same way).
    const open = this.isOpen(conv) && conv.messages !== null;
    if (!m.mine && !known) {
      info = { ...info, unread: info.unread + 1 };
      if (open && !this.atBottom) this.arrivedBelow.set(conv.info.id, (this.arrivedBelow.get(conv.info.id) ?? 0) + 1);
      // The message they were typing is here.
      this.dropTyping(m.convId, m.author);
    }
    conv.info = info;
    if (conv.messages && fitsWindow(conv.messages, m, !conv.hasNewer)) {
      conv.messages = upsertMessage(conv.messages, m);
      if (!conv.hasNewer) conv.followAppends = true;
      // A long live session: let the oldest go, but never from under a reader scrolled up
      // (conversations in the background, prefetched or visited before, have no reader).
      if ((!open || this.atBottom) && conv.messages.length > MAX_LOADED + PAGE) {
        conv.messages = conv.messages.slice(conv.messages.length - MAX_LOADED);
        conv.hasOlder = true;
      }
    }
    this.changed();
    if (!m.mine && !known && open) void this.markRead(conv);
  }

  /** A quoted or edited message changed under the composer: follow it, or let go of it. */
  private composerTargetChanged(m: MessageInfo): void {
    for (const map of [this.replying, this.editing]) {
      const cur = map.get(m.convId);
      if (cur?.id !== m.id) continue;
      if (m.deleted) map.delete(m.convId);
      else map.set(m.convId, m);
    }
  }

  /** Progress of one transfer: only its attachment's view changes. */
  private onTransfer(convId: string, messageId: string, transfer: TransferView): void {
    const conv = this.convs.get(convId);
    if (!conv) return;
    const patch = (m: MessageInfo): MessageInfo => (m.attachment ? { ...m, attachment: { ...m.attachment, transfer } } : m);
    let touched = false;
    if (conv.messages) {
      const i = conv.messages.findIndex((x) => x.id === messageId);
      if (i >= 0 && conv.messages[i]!.attachment) {
        const next = conv.messages.slice();
        next[i] = patch(next[i]!);
        conv.messages = next;
        touched = true;
      }
    }
    if (conv.info.lastMessage?.id === messageId) {
      conv.info = { ...conv.info, lastMessage: patch(conv.info.lastMessage) };
      touched = true;
    }
    if (touched) this.changed();
  }

  /** Starts (or, with null, ends) answering a message in the composer. */
  setReplying(convId: string, m: MessageInfo | null): void {
    if (m) {
      this.replying.set(convId, m);
      this.editing.delete(convId);
    } else this.replying.delete(convId);
    this.changed();
  }

  setEditing(convId: string, m: MessageInfo | null): void {
    if (m) {
      this.editing.set(convId, m);
      this.replying.delete(convId);
    } else this.editing.delete(convId);
    this.changed();
  }

  /** My newest message that can still be edited (text, not deleted), for Up in an empty composer. */
  lastEditable(convId: string): MessageInfo | undefined {
    const list = this.convs.get(convId)?.messages ?? [];
    return findLast(list, (m) => m.mine && !m.deleted && !m.change && m.text.length > 0 && m.state !== 'canceled');
  }

  /**
   * Calls a command that answers with the changed message (edit, delete, react, file
   * actions) and shows the result at once rather than waiting for its event.
   */
  async act<K extends 'editMessage' | 'deleteMessage' | 'react' | 'acceptFile' | 'declineFile' | 'cancelTransfer' | 'retryTransfer'>(
    name: K,
    args: CommandArgs<K>,
  ): Promise<boolean> {
    try {
      const m = (await this.transport.call(name, args)) as MessageInfo;
      this.onMessage(m, true);
      return true;
    } catch (err) {
      this.notify((err as Error).message);
      return false;
    }
  }

  async showInFolder(messageId: string): Promise<void> {
    try {
      await this.transport.call('showInFolder', { messageId });
    } catch (err) {
      this.notify((err as Error).message);
    }
  }

  /** A message I sent (text or file) goes into its conversation at once. */
  private sent(convId: string, m: MessageInfo): void {
    const conv = this.convs.get(convId);
    if (conv) conv.info = { ...conv.info, lastMessage: m };
    if (conv?.messages && !conv.hasNewer) {
      conv.messages = upsertMessage(conv.messages, m);
      conv.followAppends = true;
    }
    this.changed();
  }

  /**
   * Posts the bytes to the host ('/upload'), then offers them in the conversation. The
   * upload is the slow local part; the transfer to the peers shows on the message itself.
   */
  async sendFile(
    convId: string,
    file: Blob,
    meta: { name: string; kind: AttachmentKind; thumbnail?: string; width?: number; height?: number; durationMs?: number; replyTo?: string; folder?: FolderRef },
  ): Promise<boolean> {
    this.uploading.set(convId, [...(this.uploading.get(convId) ?? []), meta.name]);
    this.changed();
    try {
      const upload = await this.transport.upload(file, meta.name);
      const { name: _name, ...rest } = meta;
      const m = await this.transport.call('sendFile', { convId, upload, ...rest });
      this.sent(convId, m);
      if (this.convs.get(convId)?.hasNewer) await this.showLatest(convId);
      return true;
    } catch (err) {
      this.notify((err as Error).message);
      return false;
    } finally {
      const left = [...(this.uploading.get(convId) ?? [])];
      const at = left.indexOf(meta.name);
      if (at >= 0) left.splice(at, 1);
      if (left.length) this.uploading.set(convId, left);
      else this.uploading.delete(convId);
      this.changed();
    }
  }

  async loadBroadcasts(): Promise<void> {
    try {
      this.broadcasts = await this.transport.call('listBroadcasts', { limit: 50 });
      this.changed();
    } catch (err) {
      this.notify((err as Error).message);
    }
  }

  async broadcast(text: string): Promise<BroadcastInfo | null> {
    try {
      const b = await this.transport.call('broadcast', { text });
      this.broadcasts = [b, ...(this.broadcasts ?? []).filter((x) => x.id !== b.id)];
      this.changed();
      return b;
    } catch (err) {
      this.notify((err as Error).message);
      return null;
    }
  }

  async send(convId: string, text: string, extra: { replyTo?: string; mentions?: PeerId[] } = {}): Promise<boolean> {
    try {
      const m = await this.transport.call('send', { convId, text, ...extra });
      this.sent(convId, m);
      // Sent from deep in the history: show where it went.
      if (this.convs.get(convId)?.hasNewer) await this.showLatest(convId);
      return true;
    } catch (err) {
      this.notify((err as Error).message);
      return false;
    }
  }

  async retry(messageId: string): Promise<void> {
    try {
      this.onMessage(await this.transport.call('retry', { messageId }));
    } catch (err) {
      this.notify((err as Error).message);
    }
  }

  async cancel(messageId: string): Promise<void> {
    try {
      this.onMessage(await this.transport.call('cancel', { messageId }));
    } catch (err) {
      this.notify((err as Error).message);
    }
  }

  /**
   * Opens the message's conversation at that message. One that is not loaded comes with half
   * a page on either side (`around`), so a jump into 100,000 messages costs one page, not the
   * whole history; scrolling from there loads older and newer pages.
   */
  async jumpTo(m: Pick<MessageInfo, 'id' | 'convId'>): Promise<void> {
    const conv = this.convs.get(m.convId);
    if (!conv) return;
    if (!conv.messages?.some((x) => x.id === m.id)) {
      let page: MessageInfo[];
      try {
        page = await this.transport.call('history', { convId: conv.info.id, around: m.id, limit: PAGE });
      } catch (err) {
        this.notify((err as Error).message);
        return;
      }
      const at = page.findIndex((x) => x.id === m.id);
      if (at < 0) return conv.info.kind === 'group' ? this.selectGroup(conv.info.id) : this.select(conv.info.peerId);
      conv.messages = page;
      conv.hasOlder = at >= AROUND_HALF;
      conv.hasNewer = page.length - at - 1 >= PAGE - AROUND_HALF - 1;
      conv.window++;
      conv.followAppends = true;
      conv.firstUnreadId = conv.hasNewer ? null : firstUnread(page, conv.info.unread);
    }
    this.selectedPeerId = conv.info.peerId;
    this.selectedGroupId = conv.info.kind === 'group' ? conv.info.id : null;
    this.atBottom = false;
    this.arrivedBelow.delete(conv.info.id);
    this.focus = { convId: conv.info.id, messageId: m.id, nonce: ++this.nonce };
    this.changed();
  }

  /** Who is typing in this conversation right now. */
  typingIn(convId: string): readonly PeerId[] {
    return this.typing.get(convId) ?? [];
  }

  isTyping(peerId: PeerId): boolean {
    for (const ids of this.typing.values()) if (ids.includes(peerId)) return true;
    return false;
  }

  /** From the composer; best effort, like the indicator itself (the peer may be offline). */
  setTyping(convId: string, typing: boolean): void {
    this.transport.call('setTyping', { convId, typing }).catch(() => undefined);
  }

  private onTyping(convId: string, peerId: PeerId, typing: boolean): void {
    if (peerId === this.self?.id) return;
    const ids = this.typing.get(convId) ?? [];
    if (typing === ids.includes(peerId)) return;
    if (typing) this.typing.set(convId, [...ids, peerId]);
    else this.dropTyping(convId, peerId);
    this.changed();
  }

  private dropTyping(convId: string, peerId: PeerId): void {
    const ids = this.typing.get(convId);
    if (!ids?.includes(peerId)) return;
    const rest = ids.filter((id) => id !== peerId);
    if (rest.length) this.typing.set(convId, rest);
    else this.typing.delete(convId);
  }

  private clearTyping(peerId: PeerId): void {
    for (const convId of [...this.typing.keys()]) this.dropTyping(convId, peerId);
  }

  setDraft(convId: string, text: string): void {
    if (text) this.drafts.set(convId, text);
    else this.drafts.delete(convId);
    if (this.draftTimer) clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => saveDrafts(this.drafts), 400);
  }

  async setProfile(change: { name?: string; presence?: 'online' | 'away' | 'busy'; statusText?: string }): Promise<boolean> {
    try {
      this.self = cleanSelf(await this.transport.call('setProfile', change));
      if (change.name && this.needsName) {
        this.needsName = false;
        // The Electron shell flags first run in the URL; a reload must not ask again.
        if (location.search) history.replaceState(null, '', location.pathname);
      }
      this.changed();
      return true;
    } catch (err) {
      this.notify((err as Error).message);
      return false;
    }
  }

  /** Rejects with the core's reason; the settings view shows it next to the field. */
  async updateSettings(update: SettingsUpdate): Promise<Settings> {
    const settings = await this.transport.call('updateSettings', update);
    this.settings = settings;
    this.changed();
    return settings;
  }

  isMuted(convId: string): boolean {
    return this.settings?.notifications.mutedConversations.includes(convId) ?? false;
  }

  async setMuted(convId: string, muted: boolean): Promise<void> {
    const current = this.settings?.notifications.mutedConversations ?? [];
    const next = muted ? [...current.filter((c) => c !== convId), convId] : current.filter((c) => c !== convId);
    try {
      await this.updateSettings({ notifications: { mutedConversations: next } });
    } catch (err) {
      this.notify((err as Error).message);
    }
  }

  /**
   * In web mode only the page can tell whether someone is there: input in it counts as
   * activity (Electron asks the system instead, for the whole computer). Reported rarely; the
   * core's timer does the rest. Back from an automatic "away", it is reported at once.
   */
  private reportActivityFromPage(): void {
    let last = 0;
    const report = () => {
      const now = Date.now();
      const away = this.self?.presence === 'away';
      if (now - last < (away ? 1000 : ACTIVITY_EVERY_MS)) return;
      last = now;
      this.transport.call('reportActivity', { idleMs: 0 }).catch(() => {
        // Not connected: try again with the next input a second from now.
        last = now - ACTIVITY_EVERY_MS + 1000;
      });
    };
    // Input only (and opening the page): a window that merely gets focus may have nobody at it.
    for (const type of ['pointerdown', 'pointermove', 'keydown', 'wheel'] as const) window.addEventListener(type, report, { passive: true });
    report();
  }
}

function isVisible(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

/** Incoming messages after the one with this ID (all of them if it is not there). */
function incomingAfter(list: MessageInfo[], id: string): number {
  let n = 0;
  for (let i = list.length - 1; i >= 0 && list[i]!.id !== id; i--) if (!list[i]!.mine) n++;
  return n;
}

function findLast<T>(list: T[], pred: (x: T) => boolean): T | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (pred(list[i]!)) return list[i];
  return undefined;
}

/**
 * The oldest of the last `unread` incoming messages, or null when there are more unread
 * messages than loaded ones: then the line would sit at an arbitrary page boundary, and the
 * conversation opens at its end instead.
 */
export function firstUnread(list: MessageInfo[], unread: number): string | null {
  if (unread <= 0) return null;
  let left = unread;
  for (let i = list.length - 1; i >= 0; i--) {
    if (list[i]!.mine) continue;
    if (--left === 0) return list[i]!.id;
  }
  return null;
}
