// Nothing keyseal-specific. The roots only say where this example's sources end: it imports
// ../shared/ (the checks every bundler example runs), outside its own directory.
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** @type {import('next').NextConfig} */
export default {
  turbopack: { root },
  outputFileTracingRoot: root,
};
