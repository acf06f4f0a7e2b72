import { initial } from './0001-initial.ts';
import { storedAtRelay } from './0002-stored-at-relay.ts';
import { peerTrust } from './0003-peer-trust.ts';
import { groups } from './0004-groups.ts';
import { richMessages } from './0005-rich-messages.ts';
import { attachments } from './0006-attachments.ts';
import { attachmentFolders } from './0007-attachment-folders.ts';
import type { Migration } from './migration.ts';

export type { Migration };

/** Every migration, in order; the last version is the schema this build writes. */
export const migrations: readonly Migration[] = [initial, storedAtRelay, peerTrust, groups, richMessages, attachments, attachmentFolders];
