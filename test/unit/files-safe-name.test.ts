// The received-name policy (main/core/files/README.md): what is refused, what is neutralised,
// and a property test that whatever a peer sends, an accepted name obeys every rule.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NAME_LIMITS, safeFileName, safeRelativePath, withSuffix, type NameChange, type NameRefusal } from '../../main/core/files/safe-name.ts';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

function refused(input: string | Uint8Array, reason: NameRefusal) {
  const r = safeFileName(input);
  assert.deepEqual(r, { ok: false, reason }, `${JSON.stringify(typeof input === 'string' ? input : [...input])} is refused as ${reason}`);
}

function becomes(input: string | Uint8Array, name: string, changes: NameChange[] = []) {
  const r = safeFileName(input);
  assert.ok(r.ok, `${JSON.stringify(input)} is accepted, got ${JSON.stringify(r)}`);
  assert.equal(r.name, name);
  assert.deepEqual([...r.changes].sort(), [...changes].sort());
}

describe('received file names: refused', () => {
  it('refuses "." and ".." and any path that climbs, with either separator', () => {
    for (const n of ['.', '..', '../evil.txt', '..\\..\\evil.txt', 'a/../../b', 'a\\..\\b', '..\u200B', '.\u202E.']) refused(n, 'traversal');
  });

  it('refuses absolute POSIX paths', () => {
    refused('/etc/passwd', 'absolute');
    refused('\\Windows\\win.ini', 'absolute');
  });

  it('refuses UNC and device paths in both spellings', () => {
    for (const n of ['\\\\server\\share\\x.txt', '//server/share/x.txt', '\\\\?\\C:\\x', '\\\\.\\PhysicalDrive0', '/\\server\\x']) refused(n, 'unc');
  });

  it('refuses drive letters, drive roots and drive-relative names', () => {
    for (const n of ['C:', 'C:\\', 'c:\\Windows\\win.ini', 'D:/x', 'c:evil.txt']) refused(n, 'drive');
  });

  it('refuses a separator in a single name', () => {
    refused('a/b.txt', 'separator');
    refused('a\\b.txt', 'separator');
  });

  it('refuses NUL anywhere, as text or as bytes', () => {
    refused('a\0.txt', 'nul');
    refused('\0', 'nul');
    refused(new Uint8Array([0x61, 0x00, 0x62]), 'nul');
  });

  it('refuses Windows device names in any case, with extensions and trailing spaces before them', () => {
    for (const n of ['CON', 'con', 'Prn', 'AUX', 'nul', 'NUL.txt', 'con.txt', 'CON.tar.gz', 'COM1', 'com9.log', 'COM0', 'LPT1', 'LpT9.log', 'COM¹', 'lpt³.txt', 'CONIN$', 'conout$.txt', 'AUX .txt']) {
      refused(n, 'reserved');
    }
    becomes('CONSOLE.txt', 'CONSOLE.txt');
    becomes('com10.txt', 'com10.txt');
    becomes('my con.txt', 'my con.txt');
  });

  it('refuses trailing dots and trailing white space, which Windows would strip', () => {
    for (const n of ['report.txt.', '...', 'a.']) refused(n, 'trailing-dot');
    for (const n of ['report.txt ', '.. ', 'a\u00A0', 'a\u3000']) refused(n, 'trailing-space');
  });

  it('refuses empty names, white space only, and names that are only invisible characters', () => {
    for (const n of ['', '   ', '\u200B', '\u202E', '\uFEFF\u2066']) refused(n, 'empty');
  });

  it('refuses invalid UTF-8 bytes and strings with lone surrogates', () => {
    refused(new Uint8Array([0x66, 0xff, 0x2e, 0x74]), 'invalid-utf8');
    refused(new Uint8Array([0xc0, 0xae, 0xc0, 0xae]), 'invalid-utf8'); // overlong "..", the classic
    refused(new Uint8Array([0xed, 0xa0, 0x80]), 'invalid-utf8'); // an encoded surrogate
    refused('\uD800x.txt', 'invalid-utf8');
    refused('x\uDC00', 'invalid-utf8');
    becomes(new Uint8Array(Buffer.from('résumé.pdf')), 'résumé.pdf');
  });

  it('refuses input over 4,096 bytes before doing any work on it', () => {
    refused('a'.repeat(NAME_LIMITS.maxInputBytes + 1), 'too-long');
    refused(new Uint8Array(NAME_LIMITS.maxInputBytes + 1).fill(0x61), 'too-long');
  });
});

describe('received file names: neutralised', () => {
  it('removes bidi controls, so "photo\\u202Egnp.exe" cannot pose as "photoexe.png"', () => {
    becomes('photo\u202Egnp.exe', 'photognp.exe', ['invisible']);
    becomes('\u2067abc\u2069.txt', 'abc.txt', ['invisible']);
    becomes('a\u200E\u200F\u061C.txt', 'a.txt', ['invisible']);
  });

  it('removes zero-width and other invisible characters, keeping joiners inside emoji and non-Latin script', () => {
    becomes('in\u200Bvoice.pdf', 'invoice.pdf', ['invisible']);
    becomes('\uFEFFa\u2060b\u00ADc\u3164.txt', 'abc.txt', ['invisible']);
    becomes('x\u200Dy.txt', 'xy.txt', ['invisible']);
    becomes('👨\u200D👩\u200D👧.png', '👨\u200D👩\u200D👧.png');
    becomes('می\u200Cخواهم.txt', 'می\u200Cخواهم.txt');
    becomes('❤\uFE0F.txt', '❤\uFE0F.txt');
  });

  it('replaces control characters with "_"', () => {
    becomes('line\nbreak.txt', 'line_break.txt', ['control']);
    becomes('tab\there\x7f\x85\u2028.txt', 'tab_here___.txt', ['control']);
  });

  it('replaces the characters Windows forbids, so the colon of an alternate data stream is gone too', () => {
    becomes('what?<>:"|*.txt', 'what_______.txt', ['windows-char']);
    becomes('file.txt:Zone.Identifier', 'file.txt_Zone.Identifier', ['windows-char']);
    becomes('Notes 10:30.txt', 'Notes 10_30.txt', ['windows-char']);
  });

  it('replaces slash and backslash look-alikes', () => {
    becomes('．．／evil', '．．_evil', ['lookalike-separator']);
    becomes('a∕b⁄c＼d.txt', 'a_b_c_d.txt', ['lookalike-separator']);
  });

  it('turns a leading dash into "_" and never lets a name take the temp-file prefix', () => {
    becomes('-rf', '_rf', ['leading-dash']);
    becomes('--help.txt', '_-help.txt', ['leading-dash']);
    becomes('.parley-01J0000000000000000000000.part', '_parley-01J0000000000000000000000.part', ['reserved-prefix']);
    becomes('.PARLEY-x', '_PARLEY-x', ['reserved-prefix']);
  });

  it('keeps ordinary names, dot files and inner dots as they are', () => {
    for (const n of ['report.pdf', '.gitignore', 'a.b.c', 'archive.tar.gz', '名前.txt', 'Ünïcödé', ' leading space.txt', '~tmp', '%2e%2e%2f']) becomes(n, n);
  });

  it('normalises to NFC (macOS sends NFD)', () => {
    becomes('e\u0301te\u0301.txt', 'été.txt', ['normalised']);
  });

  it('truncates names over 255 bytes at a character boundary, keeping the extension', () => {
    const long = safeFileName('a'.repeat(300) + '.txt');
    assert.ok(long.ok);
    assert.equal(long.name, 'a'.repeat(251) + '.txt');
    assert.deepEqual(long.changes, ['truncated']);

    const cjk = safeFileName('长'.repeat(100) + '.txt'); // 3 bytes each
    assert.ok(cjk.ok);
    assert.equal(cjk.name, '长'.repeat(83) + '.txt');
    assert.equal(bytes(cjk.name), 253);

    const emoji = safeFileName('👨\u200D👩\u200D👧'.repeat(20) + '.png'); // 18 bytes per family
    assert.ok(emoji.ok);
    assert.equal(emoji.name, '👨\u200D👩\u200D👧'.repeat(13) + '.png', 'cut between whole emoji');

    const tar = safeFileName('x'.repeat(300) + '.tar.gz');
    assert.ok(tar.ok);
    assert.ok(tar.name.endsWith('x.tar.gz'));
    assert.equal(bytes(tar.name), 255);

    const noExt = safeFileName('a'.repeat(200) + '.' + 'b'.repeat(100)); // an "extension" too long to be one
    assert.ok(noExt.ok);
    assert.equal(noExt.name, 'a'.repeat(200) + '.' + 'b'.repeat(54));
  });

  it('does not leave a trailing dot or space where it cut', () => {
    const r = safeFileName('a'.repeat(253) + ' .' + 'b'.repeat(40));
    assert.ok(r.ok);
    assert.equal(r.name, 'a'.repeat(253));
  });
});

describe('received folder paths', () => {
  it('splits on both separators into safe segments', () => {
    const r = safeRelativePath('Photos\\2024/summer.jpg');
    assert.ok(r.ok);
    assert.deepEqual(r.segments, ['Photos', '2024', 'summer.jpg']);
    assert.equal(r.path, 'Photos/2024/summer.jpg');
  });

  it('applies the name rules to every segment', () => {
    const cases: [string, NameRefusal][] = [
      ['a/../b', 'traversal'],
      ['a/./b', 'traversal'],
      ['a//b', 'empty'],
      ['a/', 'empty'],
      ['/a/b', 'absolute'],
      ['//srv/share', 'unc'],
      ['C:/x', 'drive'],
      ['a/C:/b', 'drive'],
      ['a/CON/b', 'reserved'],
      ['a./b', 'trailing-dot'],
      ['a\0/b', 'nul'],
    ];
    for (const [p, reason] of cases) assert.deepEqual(safeRelativePath(p), { ok: false, reason }, p);
  });

  it('refuses paths deeper than 32 levels or longer than 2,048 bytes', () => {
    assert.ok(safeRelativePath(Array(32).fill('d').join('/')).ok);
    assert.deepEqual(safeRelativePath(Array(33).fill('d').join('/')), { ok: false, reason: 'too-deep' });
    assert.deepEqual(safeRelativePath(Array(9).fill('d'.repeat(250)).join('/')), { ok: false, reason: 'too-long' });
  });
});

describe('name suffixes for taken names', () => {
  it('goes before the extension, and the stem gives way so the result fits 255 bytes', () => {
    assert.equal(withSuffix('a.txt', ' (1)'), 'a (1).txt');
    assert.equal(withSuffix('archive.tar.gz', ' (2)'), 'archive (2).tar.gz');
    assert.equal(withSuffix('.bashrc', ' (1)'), '.bashrc (1)');
    assert.equal(withSuffix('Photos.2024', ' (1)', undefined, false), 'Photos.2024 (1)');
    const long = withSuffix('a'.repeat(251) + '.txt', ' (12)');
    assert.equal(long, 'a'.repeat(246) + ' (12).txt');
    assert.equal(bytes(long), 255);
  });
});

describe('whatever a peer sends', () => {
  // Code points from every UTF-8 length, with the characters the rules are about made common.
  const tricky = fc.constantFrom(
    '.', '..', '/', '\\', ':', 'C:', ' ', '\0', '\n', '\u202E', '\u200B', '\u200D', '\uFEFF', 'CON', 'nul', 'com1', 'lpt¹',
    '-', '.parley-', '<', '*', '?', '"', '|', '\u0301', 'e', 'é', '长', '👨', '\uD800', '\uDC00', '∕', '＼', '\u3000', '\u00A0',
  );
  const anyText = fc.array(fc.oneof(tricky, fc.string({ unit: 'grapheme', maxLength: 4 }), fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 40 }).map((a) => a.join(''));
  const longText = fc.tuple(anyText, fc.integer({ min: 0, max: 120 })).map(([s, n]) => s + '长'.repeat(n) + s);
  const anyBytes = fc.uint8Array({ maxLength: 300 });

  const DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;

  function assertSafeSegment(seg: string): void {
    assert.ok(seg.length > 0, 'not empty');
    assert.ok(seg !== '.' && seg !== '..', 'not a dot segment');
    assert.ok(!/[\\/]/.test(seg), 'no separator');
    assert.ok(!/[\p{Cc}\u2028\u2029<>:"|?*]/u.test(seg), 'no control or Windows-forbidden character');
    assert.ok(!/[\p{Bidi_Control}\u200B\uFEFF\u2060]/u.test(seg), 'no bidi control or zero-width character');
    assert.ok(!/[.\s]$/u.test(seg), 'no trailing dot or white space');
    assert.ok(!DEVICE.test(seg.split('.')[0]!.replace(/ +$/, '')), 'not a device name');
    assert.ok(!seg.startsWith('-'), 'no leading dash');
    assert.ok(!seg.toLowerCase().startsWith('.parley-'), 'not our temp prefix');
    assert.ok(seg.isWellFormed(), 'well-formed');
    assert.equal(seg, seg.normalize('NFC'), 'NFC');
    assert.ok(bytes(seg) <= 255, 'at most 255 bytes');
  }

  it('gets a name that obeys every rule, or a refusal', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, longText, anyBytes), (input) => {
        const r = safeFileName(input);
        if (r.ok) assertSafeSegment(r.name);
        else assert.equal(typeof r.reason, 'string');
        const p = safeRelativePath(input);
        if (p.ok) {
          p.segments.forEach(assertSafeSegment);
          assert.equal(p.path, p.segments.join('/'));
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('gets the same answer again for the name it was given (sanitising is idempotent)', () => {
    fc.assert(
      fc.property(anyText, (input) => {
        const r = safeFileName(input);
        if (!r.ok) return;
        assert.deepEqual(safeFileName(r.name), { ok: true, name: r.name, changes: [] });
      }),
      { numRuns: 5000 },
    );
  });
});
