/** The file the primary forks for `skein serve`: runs the worker side. */
import { runWorker } from './main.js';

void runWorker();
