// nestjs-chabok/testing: test your app's tracking without any network I/O.
export { ChabokTestingModule, overrideChabok, getChabokRecorder } from './chabok-testing.module.js';
export { ChabokRecorder } from './chabok-recorder.js';
export type { RecordedEvent, EventMatcher } from './chabok-recorder.js';
