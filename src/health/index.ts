// nestjs-chabok/health: a @nestjs/terminus health indicator (optional peer, loaded only here).
export { ChabokHealthIndicator } from './chabok.health-indicator.js';
export type { ChabokHealthThresholds } from './chabok.health-indicator.js';
