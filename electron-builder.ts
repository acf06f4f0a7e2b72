// electron-builder 26 configuration (found by name: `npm run dist` runs electron-builder).
// Checked without packaging by test/unit/electron-builder-config.test.ts against
// app-builder-lib/scheme.json, which rejects unknown keys.
import type { Configuration } from 'electron-builder';

const config: Configuration = {
  appId: 'org.parley.desktop',
  productName: 'Parley',
  copyright: 'Copyright © Parley contributors',
  directories: { output: 'release', buildResources: 'build' },
  // The main process and preload are bundled by scripts/build.ts; only the native and
  // optional modules they leave external come from node_modules (added automatically).
  files: ['package.json', 'dist/electron/**/*', 'dist/renderer/**/*', '!**/*.map'],
  asar: true,
  // Native addons cannot be loaded from inside the asar.
  asarUnpack: ['**/*.node'],
  // better-sqlite3 13 ships Node-API prebuilds that work in Electron unchanged.
  npmRebuild: false,
  icon: 'build/icon.png',
  linux: {
    target: ['AppImage', 'deb'],
    category: 'Network',
    icon: 'build/icons',
    synopsis: 'LAN messenger',
    description: 'Zero-setup, end-to-end authenticated LAN messenger',
    maintainer: 'Parley contributors <parley@example.invalid>',
  },
  deb: { priority: 'optional' },
  win: { target: ['nsis'] },
  nsis: { oneClick: false, perMachine: false, allowToChangeInstallationDirectory: true },
  mac: {
    target: ['dmg'],
    category: 'public.app-category.social-networking',
    hardenedRuntime: true,
    // macOS 15+ blocks LAN traffic (EHOSTUNREACH) without these.
    extendInfo: {
      NSLocalNetworkUsageDescription: 'Parley talks directly to people on your local network.',
      NSBonjourServices: ['_parley._tcp'],
    },
  },
  dmg: { title: 'Parley' },
  // As Element sets them: no ELECTRON_RUN_AS_NODE, no NODE_OPTIONS or --inspect, and only
  // the integrity-checked app.asar may be loaded.
  electronFuses: {
    runAsNode: false,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    enableCookieEncryption: true,
    grantFileProtocolExtraPrivileges: false,
  },
};

export default config;
