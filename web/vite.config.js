// Vite build for the hiroba SPA. The output in dist/ is served by the C server under a strict
// Content-Security-Policy (no inline scripts or styles), so nothing is inlined: no modulepreload
// polyfill, no data: assets. The dev and preview servers proxy /api and /ws to a local hiroba.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const backend = process.env.HIROBA_BACKEND || 'http://127.0.0.1:8000';
const proxy = {
  '/api': { target: backend, changeOrigin: false },
  '/ws': { target: backend.replace(/^http/, 'ws'), ws: true, changeOrigin: false },
};

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: { host: '127.0.0.1', proxy },
  preview: { host: '127.0.0.1', proxy },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.{js,jsx}'],
    restoreMocks: true,
  },
});
