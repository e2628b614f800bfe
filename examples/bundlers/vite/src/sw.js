// A module Service Worker (registered by src/main.js with { type: 'module' }), built by Vite as a
// second entry of the production build and emitted at dist/sw.js (vite.config.js) so its scope
// covers the page. It imports keyseal statically (service workers forbid dynamic import()) and
// runs shared/checks.js when the page asks.
import * as keyseal from 'keyseal';
import { serveServiceWorker } from '../../shared/app.js';

serveServiceWorker(keyseal);
