// Nothing keyseal-specific. `worker.format: 'es'` makes Vite emit the worker as an ES module (its
// default is a classic IIFE bundle), so src/worker.js runs as a real module Web Worker.
import { defineConfig } from 'vite';

export default defineConfig({
  worker: { format: 'es' },
});
