// The packaging configuration, checked without packaging (the Electron zip cannot be had
// here): valid for electron-builder 26, with the settings the design notes ask for, and
// pointing at files the build produces.
import assert from 'node:assert/strict';
import { builtinModules, createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import config from '../../electron-builder.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
const built = existsSync(path.join(ROOT, 'dist/electron/main.cjs')) && existsSync(path.join(ROOT, 'dist/renderer/index.html'));

describe('electron-builder configuration', () => {
  it('is valid against app-builder-lib/scheme.json', () => {
    // ajv comes with electron-builder (app-builder-lib depends on it).
    const Ajv = require('ajv') as new (opts: object) => { compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown[] } };
    const schema = JSON.parse(readFileSync(require.resolve('app-builder-lib/scheme.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const ok = validate(JSON.parse(JSON.stringify(config)));
    assert.ok(ok, JSON.stringify(validate.errors, null, 2));
  });

  it('would reject a misspelt key (the check can fail)', () => {
    const Ajv = require('ajv') as new (opts: object) => { compile(schema: object): (data: unknown) => boolean };
    const schema = JSON.parse(readFileSync(require.resolve('app-builder-lib/scheme.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    assert.equal(validate({ ...JSON.parse(JSON.stringify(config)), asarUnpak: ['**/*.node'] }), false);
  });

  it('names the app and builds AppImage, deb, NSIS and dmg', () => {
    assert.equal(config.appId, 'org.parley.desktop');
    assert.equal(config.productName, 'Parley');
    assert.deepEqual(config.linux?.target, ['AppImage', 'deb']);
    assert.deepEqual(config.win?.target, ['nsis']);
    assert.deepEqual(config.mac?.target, ['dmg']);
  });

  it('unpacks native modules and does not rebuild them', () => {
    assert.ok((config.asarUnpack as string[]).includes('**/*.node'));
    assert.equal(config.npmRebuild, false);
    assert.equal(config.asar, true);
  });

  it('declares local-network use and the Bonjour service for macOS 15+', () => {
    const info = config.mac?.extendInfo as Record<string, unknown>;
    assert.match(String(info.NSLocalNetworkUsageDescription), /local network/);
    assert.deepEqual(info.NSBonjourServices, ['_parley._tcp']);
  });

  it('sets the fuses: no run-as-node, asar integrity, only the app from the asar', () => {
    const fuses = config.electronFuses!;
    assert.equal(fuses.runAsNode, false);
    assert.equal(fuses.enableEmbeddedAsarIntegrityValidation, true);
    assert.equal(fuses.onlyLoadAppFromAsar, true);
    assert.equal(fuses.enableNodeOptionsEnvironmentVariable, false);
    assert.equal(fuses.enableNodeCliInspectArguments, false);
  });

  it('has the icons it names', () => {
    const icon = path.join(ROOT, String(config.icon));
    assert.ok(existsSync(icon), icon);
    assert.equal(readFileSync(icon).readUInt32BE(16), 1024, 'a 1024 px icon for macOS and Windows');
    const linuxIcons = readdirSync(path.join(ROOT, String(config.linux?.icon)));
    for (const size of [16, 32, 48, 64, 128, 256, 512]) assert.ok(linuxIcons.includes(`${size}x${size}.png`), `${size}x${size}.png`);
  });

  it('packs the files the build produces, including package.json main', { skip: built ? false : 'run `npm run build` first' }, () => {
    const patterns = (config.files as string[]).filter((p) => !p.startsWith('!'));
    const excluded = (config.files as string[]).filter((p) => p.startsWith('!')).map((p) => p.slice(1));
    const packed = (rel: string) => patterns.some((p) => path.matchesGlob(rel, p)) && !excluded.some((p) => path.matchesGlob(rel, p));
    for (const rel of [pkg.main, 'dist/electron/preload.cjs', 'dist/electron/tray.png', 'dist/electron/icon.png', 'dist/renderer/index.html', 'package.json']) {
      assert.ok(existsSync(path.join(ROOT, rel)), `${rel} exists`);
      assert.ok(packed(rel), `${rel} is packed`);
    }
    assert.equal(pkg.main, 'dist/electron/main.cjs');
    const assets = readdirSync(path.join(ROOT, 'dist/renderer/assets'));
    assert.ok(assets.some((a) => a.endsWith('.js') && packed(`dist/renderer/assets/${a}`)));
    assert.ok(!packed('dist/electron/main.cjs.map'), 'source maps stay out');
  });

  it('bundles everything except modules the package ships as dependencies', { skip: built ? false : 'run `npm run build` first' }, () => {
    for (const bundle of ['dist/electron/main.cjs', 'dist/electron/preload.cjs']) {
      const code = readFileSync(path.join(ROOT, bundle), 'utf8');
      const required = new Set([...code.matchAll(/\brequire\("([^"./][^"]*)"\)/g)].map((m) => m[1]!));
      for (const id of required) {
        const name = id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0]!;
        if (id === 'electron' || id.startsWith('node:') || builtinModules.includes(name)) continue;
        assert.ok(pkg.dependencies[name], `${bundle} requires ${id}, which must be a runtime dependency`);
      }
    }
  });
});
