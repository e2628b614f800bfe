// Nothing keyseal-specific. `worker.format: 'es'` makes Vite emit the worker as an ES module (its
// default is a classic IIFE bundle), so src/worker.js runs as a real module Web Worker.
// The Service Worker (src/sw.js) is a second input of the production build, emitted as dist/sw.js
// (not under assets/ with a hash): a service worker's URL must stay the same across builds and
// its scope can be no wider than its own directory, so it must sit at the root to control the page.
// Code it shares with the page (keyseal, shared/) goes into a chunk both import statically.
import { defineConfig } from 'vite';

export default defineConfig({
  worker: { format: 'es' },
  build: {
    rolldownOptions: {
      input: { main: 'index.html', sw: 'src/sw.js' },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
});
