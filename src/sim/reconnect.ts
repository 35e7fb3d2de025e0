// gearmanode reconnects lazily on the next send but never re-announces a worker's functions
// after its job server restarts. A simulated agent must come back as a real one does, so on a
// disconnect we register again after a short delay, for as long as the caller says it is active.
import type { Logger } from '../log.js';
import type { GmWorker } from './gearmanode.js';

export function keepRegistered(
  worker: GmWorker,
  register: () => void,
  active: () => boolean,
  log: Logger,
  retryMs = 500,
): () => void {
  let timer: NodeJS.Timeout | null = null;
  let cancelled = false;
  const schedule = () => {
    if (cancelled || timer || !active()) return;
    timer = setTimeout(() => {
      timer = null;
      if (cancelled || !active()) return;
      log.debug('re-registering gearman functions after disconnect');
      register();
    }, retryMs);
  };
  worker.on('socketDisconnect', schedule);
  worker.on('socketError', (uid: string, error: unknown) => log.debug({ server: uid, error }, 'gearman socket error'));
  worker.on('error', (error: unknown) => log.warn({ error }, 'gearman worker error'));
  return () => {
    cancelled = true;
    if (timer) clearTimeout(timer);
    timer = null;
  };
}
