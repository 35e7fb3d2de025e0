// Frames in the shape the Jenkins ZMQ event publisher plugin (openstack-infra/zmq-event-publisher)
// sends: ONE frame "<topic> <json>". The plugin serialises with Gson (snake_case names, null
// fields omitted), so `status` is absent while the build has no result (onStarted), and
// `parameters` is absent for a build without parameters.

export type EventTopic = 'onStarted' | 'onCompleted' | 'onFinalized';
export type BuildResult = 'SUCCESS' | 'FAILURE' | 'ABORTED' | 'UNSTABLE';

/**
 * The plugin's Phase enum is STARTED, COMPLETED, FINISHED: onFinalized events carry "FINISHED"
 * (not "FINALIZED"). Listeners should key on the topic, as the original Nodepool does.
 */
export const PHASE_OF: Record<EventTopic, string> = {
  onStarted: 'STARTED',
  onCompleted: 'COMPLETED',
  onFinalized: 'FINISHED',
};

export interface FrameBuild {
  job: string;
  number: number;
  /** Root URL of the master, ending in "/". */
  rootUrl: string;
  nodeName: string;
  nodeDescription?: string;
  hostName?: string;
  parameters?: Record<string, string>;
  result?: BuildResult;
}

export function eventFrame(topic: EventTopic, b: FrameBuild): string {
  const jobUrl = `job/${encodeURIComponent(b.job)}/`;
  const buildUrl = `${jobUrl}${b.number}/`;
  const build: Record<string, unknown> = {
    full_url: b.rootUrl + buildUrl,
    number: b.number,
    phase: PHASE_OF[topic],
  };
  if (topic !== 'onStarted' && b.result) build.status = b.result;
  build.url = buildUrl;
  if (b.parameters && Object.keys(b.parameters).length > 0) build.parameters = b.parameters;
  build.node_name = b.nodeName;
  if (b.nodeDescription !== undefined) build.node_description = b.nodeDescription;
  if (b.hostName !== undefined) build.host_name = b.hostName;
  return `${topic} ${JSON.stringify({ name: b.job, url: jobUrl, build })}`;
}
