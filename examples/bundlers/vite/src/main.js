import * as keyseal from 'keyseal';
import { runPage } from '../../shared/app.js';

runPage(keyseal, () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }));
