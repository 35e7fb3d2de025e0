// The simulated CI master and the job-load generator, for the demo, integration tests and benchmarks.
export { startSimMaster, type SimMaster, type SimMasterOptions, type SimNodeInfo, type SimBuild, type SimJob } from './master.js';
export { startLoad, planSubmissions, type Load, type LoadOptions, type LoadJob, type LoadOutcome, type TraceEntry } from './load.js';
export { eventFrame, PHASE_OF, type EventTopic, type BuildResult, type FrameBuild } from './event-frame.js';
