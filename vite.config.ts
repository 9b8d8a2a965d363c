/**
 * Builds the browser app (client/) into dist/ at the repo root, which the relay serves.
 *
 * PWA: the service worker precaches the app shell and answers every navigation (`/`,
 * `/r/<room>`, `/lab/<room>`) with index.html, so the app cold-starts offline. It never reloads a
 * page by itself (`registerType: 'prompt'`): a new version waits until the user clicks "Reload",
 * so a draft being typed is never lost. `/sync` (websockets), `/healthz`, `/metrics` and `/config.json`
 * bypass it.
 */
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';

const THEME_COLOR = '#2f4a9e';
const BACKGROUND_COLOR = '#f7f8fb';

export default defineConfig({
  root: 'client',
  base: '/',
  publicDir: 'public',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  plugins: [
    react(),
    VitePWA({
      registerType: 'prompt',
      // The app registers the worker itself (client/ui/UpdatePrompt.tsx, virtual:pwa-register/react).
      injectRegister: false,
      // The glob below already precaches the icons (the plugin adds the manifest itself).
      includeManifestIcons: false,
      manifest: {
        id: '/',
        name: 'Converge',
        short_name: 'Converge',
        description: 'Offline-first chat: rooms that sync when you are back online.',
        lang: 'en',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        theme_color: THEME_COLOR,
        background_color: BACKGROUND_COLOR,
        icons: [
          { src: '/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,png,svg,ico,txt}'],
        navigateFallback: 'index.html',
        navigateFallbackDenylist: [/^\/sync(\/|$)/, /^\/healthz$/, /^\/metrics$/, /^\/config\.json$/],
        cleanupOutdatedCaches: true,
        // No skipWaiting: a new worker waits for the user's "Reload" (see UpdatePrompt). Once it
        // activates it claims open pages, so the page that asked reloads into the new version.
        clientsClaim: true,
        skipWaiting: false,
        sourcemap: false,
      },
    }),
  ],
  server: {
    // Vite's dev server (`npx vite`; no npm script runs it): proxy /sync and /healthz to the relay
    // that `npm start` runs at its defaults (127.0.0.1:8787).
    proxy: {
      '/sync': { target: 'ws://127.0.0.1:8787', ws: true },
      '/healthz': 'http://127.0.0.1:8787',
    },
  },
});
