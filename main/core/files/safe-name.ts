// Peer-supplied file names and folder paths, made safe to create inside the download folder.
//
// Policy (README.md has the table): what only makes sense as an attack, or what Windows would
// silently turn into another name, is REFUSED with a typed reason, as LocalSend does (PR #3263):
// rewriting "../x" into something else would hide from the user that the peer tried it, and
// Windows stripping "a.txt." to "a.txt" would make the name we checked differ from the name
// created. What is merely unportable or confusing on screen is NEUTRALISED and reported in
// `changes`: those names come from ordinary people ("Notes 10:30?.txt", a macOS NFD name).
// The rules are the same on every platform, so a name arrives the same on Linux and Windows.
import { Buffer } from 'node:buffer';

export const NAME_LIMITS = {
  /** Bytes of UTF-8 per name: ext4, APFS, NTFS (255 UTF-16 units, never more than this) agree. */
  maxNameBytes: 255,
  /** Input larger than this is refused before any work is done on it. */
  maxInputBytes: 4096,
  /** A folder path inside a transfer: bytes of UTF-8 and levels. */
  maxPathBytes: 2048,
  maxDepth: 32,
  /** A longer "extension" is not one; truncation then keeps the start of the name instead. */
  maxExtensionBytes: 32,
} as const;

export type NameRefusal =
  /** Nothing left, or only white space / invisible characters, or an empty path segment ("a//b"). */
  | 'empty'
  /** Bytes that are not UTF-8, or a string with an unpaired surrogate (design notes §7). */
  | 'invalid-utf8'
  /** C APIs end the name at a NUL, so the name checked would not be the name used. */
  | 'nul'
  /** A "." or ".." segment, at any depth. */
  | 'traversal'
  /** Starts with "/" or "\". */
  | 'absolute'
  /** \\server\share, //server/share, \\?\ and \\.\ device paths. */
  | 'unc'
  /** A drive: "C:", "C:\x", or the drive-relative "c:x". */
  | 'drive'
  /** A "/" or "\" in what must be a single name. */
  | 'separator'
  /** A Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, CONIN$, CONOUT$), with any extension. */
  | 'reserved'
  /** Windows drops trailing dots: "a.txt." would be created as "a.txt". */
  | 'trailing-dot'
  /** Windows drops trailing spaces likewise; other trailing white space is invisible. */
  | 'trailing-space'
  /** Input over maxInputBytes, or a folder path over maxPathBytes. */
  | 'too-long'
  /** A folder path deeper than maxDepth. */
  | 'too-deep';

export type NameChange =
  /** Normalised to NFC (macOS sends NFD): same text, one spelling. */
  | 'normalised'
  /** Bidi controls and other invisible characters removed ("photo\u202Egnp.exe" posing as "photoexe.png"). */
  | 'invisible'
  /** Control characters (tab, newline, DEL, C1, line/paragraph separators) became "_". */
  | 'control'
  /** Characters Windows forbids in names (< > : " | ? *) became "_". */
  | 'windows-char'
  /** Slash and backslash look-alikes (∕ ⁄ ／ ＼ ⧸ ⧹) became "_", so a name cannot pose as a path. */
  | 'lookalike-separator'
  /** A leading "-" became "_", so the name cannot pose as an option in a shell command. */
  | 'leading-dash'
  /** ".parley-" is the prefix of our own temporary files; a received name never has it. */
  | 'reserved-prefix'
  /** Over 255 bytes: shortened at a character boundary, keeping the extension. */
  | 'truncated';

export type SafeName = { ok: true; name: string; changes: NameChange[] } | { ok: false; reason: NameRefusal };
export type SafePath =
  | { ok: true; segments: string[]; path: string; changes: NameChange[] }
  | { ok: false; reason: NameRefusal };

/** Our temporary files start with this; safe names never do (checked case-insensitively). */
export const TEMP_PREFIX = '.parley-';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const bytesOf = (s: string) => Buffer.byteLength(s, 'utf8');

/** Invisible on screen. Default_Ignorable covers the bidi controls too; both named for the reader. */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]/u;
/** Emoji presentation and CJK variants need these; they do not hide text. */
const VARIATION_SELECTOR = /[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/u;
const ZWJ = '\u200D';
const ZWNJ = '\u200C';
const CONTROL = /[\p{Cc}\u2028\u2029]/gu;
const WINDOWS_CHARS = /[<>:"|?*]/g;
const LOOKALIKE_SEPARATORS = /[\u2215\u2044\uFF0F\uFF3C\u29F8\u29F9]/g;
const DRIVE = /^[A-Za-z]:/;
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;
const TRAILING_SPACE = /\s$/u;
const COMPRESSED_TAR = /\.tar\.(gz|bz2|xz|zst|lz|lzma|z)$/i;

function decode(input: string | Uint8Array): string | NameRefusal {
  if (typeof input === 'string') {
    // UTF-16 units never outnumber UTF-8 bytes, so this bounds the work before measuring.
    if (input.length > NAME_LIMITS.maxInputBytes || bytesOf(input) > NAME_LIMITS.maxInputBytes) return 'too-long';
    return input.isWellFormed() ? input : 'invalid-utf8';
  }
  if (input.byteLength > NAME_LIMITS.maxInputBytes) return 'too-long';
  try {
    return utf8.decode(input);
  } catch {
    return 'invalid-utf8';
  }
}

const nonAscii = (c: string | undefined) => c !== undefined && c.codePointAt(0)! > 0x7f && !INVISIBLE.test(c);

/**
 * Removes invisible characters. ZWJ and ZWNJ stay between two visible non-ASCII characters,
 * where emoji sequences and Persian or Indic spelling need them; between ASCII letters they
 * could only make "invoice.pdf" and "invoice\u200D.pdf" two files that look the same.
 */
function stripInvisible(s: string): string {
  const cps = Array.from(s);
  return cps
    .filter((c, i) => {
      if (!INVISIBLE.test(c) || VARIATION_SELECTOR.test(c)) return true;
      if (c === ZWJ || c === ZWNJ) return nonAscii(cps[i - 1]) && nonAscii(cps[i + 1]);
      return false;
    })
    .join('');
}

/**
 * Splits off the extension that truncation and " (n)" suffixes keep: the last ".xyz" (or a
 * compressed ".tar.gz"), if it is not the whole name, is short and has no white space.
 */
export function splitExtension(name: string): [stem: string, ext: string] {
  const tar = COMPRESSED_TAR.exec(name);
  const at = tar && tar.index > 0 ? tar.index : name.lastIndexOf('.');
  if (at <= 0) return [name, ''];
  const ext = name.slice(at);
  if (bytesOf(ext) > NAME_LIMITS.maxExtensionBytes || /\s/u.test(ext)) return [name, ''];
  return [name.slice(0, at), ext];
}

const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });

/** The longest prefix of `s` within `max` UTF-8 bytes, cut between graphemes (else code points). */
function cutToBytes(s: string, max: number): string {
  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(s)) {
    const n = bytesOf(segment);
    if (used + n > max) break;
    out += segment;
    used += n;
  }
  // One huge grapheme (a letter under hundreds of combining marks) still gets a prefix.
  if (out === '' && s !== '') {
    for (const cp of s) {
      const n = bytesOf(cp);
      if (used + n > max) break;
      out += cp;
      used += n;
    }
  }
  return out;
}

/**
 * `name` with `suffix` inserted before its extension ("a.txt", " (2)" gives "a (2).txt"; for
 * folders, keepExtension false puts it at the end), the stem shortened so the result fits
 * `maxBytes`. A cut that leaves a trailing dot, space or joiner has them removed, since the
 * rules above refuse such names.
 */
export function withSuffix(
  name: string,
  suffix: string,
  maxBytes: number = NAME_LIMITS.maxNameBytes,
  keepExtension = true,
): string {
  const [stem, ext] = keepExtension ? splitExtension(name) : [name, ''];
  if (bytesOf(stem) + bytesOf(suffix) + bytesOf(ext) <= maxBytes) return stem + suffix + ext;
  let cut = cutToBytes(stem, maxBytes - bytesOf(suffix) - bytesOf(ext));
  cut = cut.replace(/[\s.\u200C\u200D]+$/u, '');
  if (cut === '') cut = '_';
  return cut + suffix + ext;
}

/** Checks and neutralises one segment (already decoded, invisible-stripped and NFC). */
function cleanSegment(raw: string, changes: Set<NameChange>): { name: string } | { refused: NameRefusal } {
  if (raw === '') return { refused: 'empty' };
  if (raw === '.' || raw === '..') return { refused: 'traversal' };
  if (DRIVE.test(raw)) return { refused: 'drive' };
  let s = raw;
  const replace = (re: RegExp, change: NameChange) => {
    const next = s.replace(re, '_');
    if (next !== s) changes.add(change);
    s = next;
  };
  replace(CONTROL, 'control');
  replace(WINDOWS_CHARS, 'windows-char');
  replace(LOOKALIKE_SEPARATORS, 'lookalike-separator');
  if (s.trim() === '') return { refused: 'empty' };
  if (s.endsWith('.')) return { refused: 'trailing-dot' };
  if (TRAILING_SPACE.test(s)) return { refused: 'trailing-space' };
  // Windows reads "con.txt" and "CON .tar.gz" as the device: the part before the first dot counts.
  const dot = s.indexOf('.');
  if (RESERVED.test((dot < 0 ? s : s.slice(0, dot)).replace(/ +$/, ''))) return { refused: 'reserved' };
  if (s.startsWith('-')) {
    s = '_' + s.slice(1);
    changes.add('leading-dash');
  }
  if (s.toLowerCase().startsWith(TEMP_PREFIX)) {
    s = '_' + s.slice(1);
    changes.add('reserved-prefix');
  }
  if (bytesOf(s) > NAME_LIMITS.maxNameBytes) {
    s = withSuffix(s, '');
    changes.add('truncated');
  }
  // A joiner kept beside a character replaced or cut above no longer joins anything visible.
  const visible = stripInvisible(s);
  if (visible !== s) changes.add('invisible');
  return { name: visible };
}

function clean(input: string | Uint8Array): SafePath {
  const decoded = decode(input);
  if (decoded === 'invalid-utf8' || decoded === 'too-long') return { ok: false, reason: decoded };
  if (decoded.includes('\0')) return { ok: false, reason: 'nul' };
  const changes = new Set<NameChange>();
  const visible = stripInvisible(decoded);
  if (visible !== decoded) changes.add('invisible');
  const text = visible.normalize('NFC');
  if (text !== visible) changes.add('normalised');

  if (/^[\\/]{2}/.test(text)) return { ok: false, reason: 'unc' };
  if (/^[\\/]/.test(text)) return { ok: false, reason: 'absolute' };
  // Both separators count: a name is checked as Windows would read it, wherever it lands.
  const parts = text.split(/[\\/]/);
  if (parts.length > NAME_LIMITS.maxDepth) return { ok: false, reason: 'too-deep' };
  const segments: string[] = [];
  for (const part of parts) {
    const seg = cleanSegment(part, changes);
    if ('refused' in seg) return { ok: false, reason: seg.refused };
    segments.push(seg.name);
  }
  const path = segments.join('/');
  if (bytesOf(path) > NAME_LIMITS.maxPathBytes) return { ok: false, reason: 'too-long' };
  return { ok: true, segments, path, changes: [...changes] };
}

/**
 * A relative folder path from a folder transfer ("Photos/2024/a.jpg", "a\\b\\c.txt"):
 * every segment must be a safe name; "/" and "\" both separate.
 */
export function safeRelativePath(input: string | Uint8Array): SafePath {
  return clean(input);
}

/** A single file name: as safeRelativePath, and a separator anywhere is refused. */
export function safeFileName(input: string | Uint8Array): SafeName {
  const r = clean(input);
  if (!r.ok) return r;
  if (r.segments.length !== 1) return { ok: false, reason: 'separator' };
  return { ok: true, name: r.segments[0]!, changes: r.changes };
}
