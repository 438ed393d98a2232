// Builds the operator console (console/src) into static assets under console/dist, which the server serves
// at /console (src/infra/server/console-assets.ts). `npx vite console` serves it with live reload, sending
// /graphql to a server on port 4000.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Asset names carry a content hash: the server may let browsers keep them for good.
    assetsDir: 'assets',
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true } },
  },
});
