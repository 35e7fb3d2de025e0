// A single-executor agent asks for one job at a time. gearmanode does not: it sends PRE_SLEEP
// after every CAN_DO and answers every NOOP with GRAB_JOB, and gearmand answers each PRE_SLEEP
// with a NOOP while jobs wait. A node that registers four functions while two jobs are queued so
// has several GRAB_JOBs in flight on one connection and is assigned both jobs; the second can't be
// given back there without also requeueing the first. This gate lets a worker hold at most one
// GRAB_JOB in flight across all its servers, and none once mayGrab() is false. A NOOP that comes
// while a grab is out is kept and served when that grab ends in NO_JOB, so no wake-up is lost
// (gearmand sends a sleeping worker one NOOP and no more until it hears from it again).
import { packetType, type GmJobServer, type GmWorker } from './gearmanode.js';

export function grabOneAtATime(worker: GmWorker, mayGrab: () => boolean): void {
  const NOOP = packetType('NOOP');
  const ends = new Set([packetType('JOB_ASSIGN'), packetType('JOB_ASSIGN_UNIQ'), packetType('NO_JOB')]);
  const NO_JOB = packetType('NO_JOB');
  const inner = worker._response.bind(worker);
  /** The server a GRAB_JOB is in flight to. */
  let grabbing: string | null = null;
  /** Servers that woke the worker and wait for their turn, oldest first. */
  const woken = new Set<string>();

  const grabNext = (): void => {
    while (!grabbing && mayGrab() && woken.size > 0) {
      const uid = woken.values().next().value as string;
      woken.delete(uid);
      const server = worker._getJobServerByUid(uid);
      if (!server) continue;
      grabbing = uid;
      inner(server, NOOP, undefined); // gearmanode's NOOP handler sends GRAB_JOB
    }
  };

  worker._response = (server: GmJobServer, type: number, parsed: unknown): void => {
    const uid = server.getUid();
    if (type === NOOP) {
      woken.add(uid);
      grabNext();
      return;
    }
    if (ends.has(type) && grabbing === uid) grabbing = null;
    inner(server, type, parsed); // JOB_ASSIGN runs the job callback; NO_JOB sends PRE_SLEEP
    if (type === NO_JOB) grabNext();
  };

  // A grab whose connection dropped has no answer coming; gearmand requeues whatever it assigned.
  worker.on('socketDisconnect', (uid: string) => {
    woken.delete(uid);
    if (grabbing === uid) grabbing = null;
    grabNext();
  });
}
