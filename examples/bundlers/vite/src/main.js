import * as keyseal from 'keyseal';
import { runPage } from '../../shared/app.js';

runPage(
  keyseal,
  () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }),
  // the Service Worker exists in the production build only (dist/sw.js; vite.config.js)
  import.meta.env.PROD
    ? () => navigator.serviceWorker.register(`${import.meta.env.BASE_URL}sw.js`, { type: 'module', scope: import.meta.env.BASE_URL })
    : null,
);
