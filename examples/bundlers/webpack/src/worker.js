import * as keyseal from 'keyseal';
import { serveWorker } from '../../shared/app.js';

serveWorker(keyseal);
