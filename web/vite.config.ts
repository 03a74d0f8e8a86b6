// The web app: built into dist/web/, which the server serves at / (src/web-app.ts). In development,
// `npm run web:dev` serves it with hot reload and forwards /graphql (WebSockets too) to a running server.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { precompress } from './precompress.ts';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react(), precompress()],
  build: { outDir: '../dist/web', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: { proxy: { '/graphql': { target: 'http://localhost:4000', ws: true } } },
});
