'use client';
// A client component: keyseal runs in the browser (the package's `browser` entry) and in a module
// Web Worker that Next builds from `new Worker(new URL(...), { type: 'module' })`.
import { useEffect } from 'react';
import * as keyseal from 'keyseal';
import { runPage } from '../../shared/app.js';

export default function Checks() {
  useEffect(() => {
    runPage(keyseal, () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }));
  }, []);
  return null;
}
