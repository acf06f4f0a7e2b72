// The conversation, virtualised: only the rows on screen (plus overscan) exist in the DOM,
// so 100,000 messages cost what 30 do. Older pages load when the top comes near; the
// virtualiser keeps the reader's row in place when they are prepended (anchorTo: 'end')
// and follows new messages while the reader is at the bottom (followOnAppend). After a jump
// to a search hit the loaded window may end before the newest message: then newer pages load
// when the bottom comes near, and "jump to latest" loads the end afresh.
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { MessageInfo } from '../../../../main/contract/contract.ts';
import type { AppStore, ConvView } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Icon } from '../../ui/Dialog.tsx';
import { ImageViewer } from '../files/ImageViewer.tsx';
import { ChangeLine, MessageBubble, type BubbleAction } from './MessageBubble.tsx';
import { buildRows, type Row } from './rows.ts';
import './rich.css';

const LOAD_OLDER_WITHIN_PX = 800;
const LOAD_NEWER_WITHIN_PX = 800;
const AT_BOTTOM_PX = 48;

export function MessageList(props: {
  store: AppStore;
  conv: ConvView;
  peerName: string;
  version: number;
  /** In a group: names authors above their bubbles and spells out membership lines. */
  nameOf?: (id: string) => string;
  label?: string;
  /** False in a group I am no longer in: messages can be read, not answered. */
  canCompose?: boolean;
}) {
  const { t, lang } = useI18n();
  const { store, conv } = props;
  const messages = conv.messages ?? [];
  const rows = useMemo(() => buildRows(messages, conv.firstUnreadId), [messages, conv.firstUnreadId]);
  const rowsRef = useRef(rows);
  rowsRef.current = rows;
  const scrollRef = useRef<HTMLDivElement>(null);
  const innerRef = useRef<HTMLDivElement>(null);
  // Opening at the new-messages line, at a search hit, or in a window that stops short of
  // the newest message is not "at the bottom", whatever the first resize says.
  const jumping = store.focus?.convId === conv.info.id;
  const opensAtEnd = conv.firstUnreadId === null && !conv.hasNewer && !jumping;
  const atBottomRef = useRef(opensAtEnd);
  const [highlight, setHighlight] = useState<string | null>(null);
  const [atBottom, setAtBottom] = useState(true);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: (i) => estimate(rows[i]),
    getItemKey: (i) => rows[i]?.key ?? i,
    overscan: 12,
    paddingStart: 12,
    // Room under the last message for the typing indicator, which floats there.
    paddingEnd: 30,
    anchorTo: 'end',
    followOnAppend: conv.followAppends,
    // Sizes come from the ResizeObserver, all rows of a frame in one batch after layout. The
    // default also reads offsetHeight as each row mounts, a forced layout per row that made
    // opening a long conversation several times slower.
    measureElement: (el, entry, instance) => {
      const box = entry?.borderBoxSize?.[0];
      if (box) return Math.round(box.blockSize);
      const index = instance.indexFromElement(el);
      return instance.itemSizeCache.get(instance.options.getItemKey(index)) ?? estimate(rowsRef.current[index]);
    },
  });

  // First paint: at a search hit, else at the new-messages line if there is one, else at the end.
  useLayoutEffect(() => {
    const hit = jumping ? rows.findIndex((r) => r.m.id === store.focus?.messageId) : -1;
    const marker = rows.findIndex((r) => r.unreadBefore);
    if (hit >= 0) virtualizer.scrollToIndex(hit, { align: 'center' });
    else if (marker >= 0) virtualizer.scrollToIndex(marker, { align: 'start' });
    else if (rows.length) virtualizer.scrollToIndex(rows.length - 1, { align: 'end' });
    // A list too short to scroll fires no scroll event: find out where we are once laid out.
    const raf = requestAnimationFrame(() => onScroll());
    return () => cancelAnimationFrame(raf);
    // Only on mount (the parent keys this component by conversation).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // My own new message always brings me to the end.
  const last = messages[messages.length - 1];
  const lastMineId = last?.mine ? last.id : null;
  const latestMine = useMemo(() => {
    for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.mine) return messages[i]!.id;
    return null;
  }, [messages]);
  const seenLastMine = useRef(lastMineId);
  useEffect(() => {
    if (lastMineId && lastMineId !== seenLastMine.current && rows.length) virtualizer.scrollToIndex(rows.length - 1, { align: 'end' });
    seenLastMine.current = lastMineId;
  }, [lastMineId, rows.length, virtualizer]);

  // Search results jump here.
  const focus = store.focus;
  useEffect(() => {
    if (!focus || focus.convId !== conv.info.id) return;
    const idx = rows.findIndex((r) => r.m.id === focus.messageId);
    if (idx < 0) return;
    virtualizer.scrollToIndex(idx, { align: 'center' });
    setHighlight(focus.messageId);
    const timer = setTimeout(() => setHighlight(null), 2500);
    // Move keyboard focus there once it is rendered.
    const raf = requestAnimationFrame(() =>
      requestAnimationFrame(() => scrollRef.current?.querySelector<HTMLElement>(`[data-message-id="${focus.messageId}"] .bubble`)?.focus({ preventScroll: true })),
    );
    return () => {
      clearTimeout(timer);
      cancelAnimationFrame(raf);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [focus?.nonce]);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    const fromBottom = el.scrollHeight - el.scrollTop - el.clientHeight;
    // The end of a window that stops short of the newest message is not the bottom.
    const bottom = fromBottom < AT_BOTTOM_PX && !conv.hasNewer;
    atBottomRef.current = bottom;
    setAtBottom(bottom);
    store.setAtBottom(bottom);
    if (el.scrollTop < LOAD_OLDER_WITHIN_PX && conv.hasOlder && !conv.loadingOlder) void store.loadOlder(conv.info.id);
    if (fromBottom < LOAD_NEWER_WITHIN_PX && conv.hasNewer && !conv.loadingNewer) void store.loadNewer(conv.info.id);
  };

  // A reader at the bottom stays there when the last rows grow (a state line, retry and
  // cancel buttons appear); the virtualiser only follows appended rows by itself.
  useEffect(() => {
    const inner = innerRef.current;
    const el = scrollRef.current;
    if (!inner || !el) return;
    const ro = new ResizeObserver(() => {
      if (atBottomRef.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(inner);
    return () => ro.disconnect();
  }, []);

  // A short first page may not fill the view: keep loading until it scrolls.
  useEffect(() => {
    const el = scrollRef.current;
    if (el && conv.hasOlder && !conv.loadingOlder && el.scrollHeight <= el.clientHeight + LOAD_OLDER_WITHIN_PX && messages.length) {
      void store.loadOlder(conv.info.id);
    }
  }, [conv.hasOlder, conv.loadingOlder, conv.info.id, messages.length, store]);

  const timeFormat = useMemo(() => new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' }), [lang]);
  const fullFormat = useMemo(() => new Intl.DateTimeFormat(lang, { dateStyle: 'full', timeStyle: 'medium' }), [lang]);
  const dayFormat = useMemo(() => new Intl.DateTimeFormat(lang, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }), [lang]);
  const dayLabel = (day: number) => {
    const today = new Date();
    today.setHours(0, 0, 0, 0);
    const yesterday = new Date(today);
    yesterday.setDate(today.getDate() - 1);
    if (day === today.getTime()) return t('conv.today');
    if (day === yesterday.getTime()) return t('conv.yesterday');
    return dayFormat.format(day);
  };

  const directNameOf = useCallback(
    (id: string) => (id === store.self?.id ? t('conv.you') : (store.peers.get(id)?.name ?? id.slice(0, 7))),
    [store, t],
  );
  const nameOf = props.nameOf ?? directNameOf;
  const selfName = store.self?.name;
  const mentionNameOf = useCallback((id: string) => (id === store.self?.id ? (selfName ?? '') : nameOf(id)), [store, selfName, nameOf]);
  const [viewing, setViewing] = useState<string | null>(null);
  const convId = conv.info.id;
  const onAction = useCallback(
    (action: BubbleAction, m: MessageInfo, reaction?: { emoji: string; on: boolean }) => {
      const messageId = m.id;
      switch (action) {
        case 'reply':
          store.setReplying(convId, m);
          focusComposer();
          break;
        case 'edit':
          store.setEditing(convId, m);
          focusComposer();
          break;
        case 'delete':
          if (window.confirm(t('msg.deleteConfirm'))) void store.act('deleteMessage', { messageId });
          break;
        case 'react':
          if (reaction) void store.act('react', { messageId, emoji: reaction.emoji, on: reaction.on });
          break;
        case 'jumpReply':
          if (m.replyTo?.author) void store.jumpTo({ id: m.replyTo.id, convId });
          break;
        case 'accept':
          void store.act('acceptFile', { messageId });
          break;
        case 'decline':
          void store.act('declineFile', { messageId });
          break;
        case 'cancel':
          void store.act('cancelTransfer', { messageId });
          break;
        case 'retry':
          void store.act('retryTransfer', { messageId });
          break;
        case 'showInFolder':
          void store.showInFolder(messageId);
          break;
        case 'view':
          setViewing(messageId);
          break;
      }
    },
    [store, convId, t],
  );
  const viewed = viewing ? messages.find((x) => x.id === viewing && x.attachment) : undefined;
  const desktop = store.api.kind === 'electron';
  const canCompose = props.canCompose ?? true;
  const onRetry = useMemo(() => (id: string) => void store.retry(id), [store]);
  const onCancel = useMemo(() => (id: string) => void store.cancel(id), [store]);
  const below = store.arrivedBelow.get(conv.info.id) ?? 0;

  return (
    <div className="message-list-wrap">
      <div
        ref={scrollRef}
        className="message-list"
        onScroll={onScroll}
        role="log"
        aria-label={props.label ?? t('conv.messages', { name: props.peerName })}
        aria-busy={conv.loadingOlder}
        tabIndex={0}
        data-testid="message-list"
        data-count={messages.length}
        data-oldest={messages[0]?.id}
        data-newest={messages[messages.length - 1]?.id}
        data-has-newer={conv.hasNewer}
      >
        {messages.length === 0 ? <p className="conv-empty">{t('conv.noMessages')}</p> : null}
        <div className="message-list-inner" ref={innerRef} style={{ height: virtualizer.getTotalSize() }}>
          {virtualizer.getVirtualItems().map((vi) => {
            const row = rows[vi.index];
            if (!row) return null;
            return (
              <div key={vi.key} data-index={vi.index} ref={virtualizer.measureElement} className="vrow" style={{ transform: `translateY(${vi.start}px)` }}>
                {row.day !== null ? (
                  <div className="day-separator" role="separator">
                    <span>{dayLabel(row.day)}</span>
                  </div>
                ) : null}
                {row.unreadBefore ? (
                  <div className="unread-marker" role="separator" data-testid="unread-marker">
                    <span>{t('conv.newMessages')}</span>
                  </div>
                ) : null}
                {row.m.change && props.nameOf ? (
                  <ChangeLine m={row.m} nameOf={props.nameOf} selfId={store.self?.id} />
                ) : (
                <MessageBubble
                  m={row.m}
                  author={props.nameOf && !row.m.mine && row.groupStart ? props.nameOf(row.m.author) : undefined}
                  groupStart={row.groupStart}
                  highlighted={highlight === row.m.id}
                  latestMine={latestMine === row.m.id}
                  timeFormat={timeFormat}
                  fullFormat={fullFormat}
                  onRetry={onRetry}
                  onCancel={onCancel}
                  nameOf={nameOf}
                  mentionNameOf={mentionNameOf}
                  onAction={onAction}
                  desktop={desktop}
                  canCompose={canCompose}
                  folderFollower={row.folderFollower}
                />
                )}
              </div>
            );
          })}
        </div>
      </div>
      {conv.loadingOlder ? (
        <div className="loading-older" role="status">
          {t('conv.loadingOlder')}
        </div>
      ) : null}
      {conv.loadingNewer ? (
        <div className="loading-newer" role="status">
          {t('conv.loadingNewer')}
        </div>
      ) : null}
      {viewed ? <ImageViewer m={viewed} onClose={() => setViewing(null)} /> : null}
      {!atBottom ? (
        <button
          type="button"
          className="jump-latest"
          onClick={() => (conv.hasNewer ? void store.showLatest(conv.info.id) : virtualizer.scrollToIndex(rows.length - 1, { align: 'end' }))}
        >
          <Icon name="down" />
          {below > 0 ? t('conv.jumpLatestCount', { count: below }) : t('conv.jumpLatest')}
        </button>
      ) : null}
    </div>
  );
}

function estimate(row: Row | undefined): number {
  if (!row) return 40;
  const m = row.m;
  const lines = Math.ceil(m.text.length / 60) + (m.text.match(/\n/g)?.length ?? 0);
  const extra = (m.attachment ? (m.attachment.kind === 'image' ? 240 : 70) : 0) + (m.replyTo ? 44 : 0) + (m.reactions?.length ? 30 : 0);
  return (row.groupStart ? 14 : 4) + 34 + 20 * Math.max(0, lines - 1) + (row.day !== null ? 40 : 0) + (row.unreadBefore ? 40 : 0) + extra;
}

/** After choosing Reply or Edit, typing goes on in the composer. */
function focusComposer(): void {
  requestAnimationFrame(() => document.querySelector<HTMLElement>('[data-testid="composer"]')?.focus());
}
