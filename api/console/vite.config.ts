// Built with `vite build api/console` (npm run build:console): this folder is the root, output in dist/.
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [preact()],
  // Served by the API at `/`; client routes (/cameras/x) fall back to index.html there.
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // ECharts (the bulk) is imported dynamically by the chart pages, so the shell loads without it.
    chunkSizeWarningLimit: 900,
  },
});
