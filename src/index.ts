// The public API of nestjs-chabok, at a glance.
export { ChabokModule } from './chabok.module.js';
export type { ChabokModuleExtras, ChabokOptionsFactory } from './chabok.module-definition.js';
export { EventTrackingService } from './services/event-tracking.service.js';
export { TrackEvent } from './decorators/track-event.decorator.js';
export type { TrackEventOptions, ValueOrFactory } from './decorators/track-event.decorator.js';
export { TrackEventInterceptor } from './interceptors/track-event.interceptor.js';

export { ChabokError } from './errors/chabok.error.js';
export type { ChabokViolation } from './errors/chabok.error.js';
export { ChabokValidationError } from './errors/chabok-validation.error.js';
export { ChabokConfigurationError } from './errors/chabok-configuration.error.js';
export { ChabokDeliveryError } from './errors/chabok-delivery.error.js';
export type { ChabokDeliveryFailureReason } from './errors/chabok-delivery.error.js';

export type { ChabokModuleOptions, IdentityResolver, OverflowPolicy } from './interfaces/chabok-options.interface.js';
export type {
  ChabokEventCatalog,
  EventDataOf,
  ChabokIdentity,
  ChabokEndpoint,
  EventData,
  EventDataValue,
  TrackEventInput,
  TrackPurchaseInput,
  TrackRevenueInput,
  WireEvent,
} from './interfaces/chabok-event.interface.js';
export type { ChabokFailure } from './interfaces/chabok-failure.interface.js';
export type { DurableDeliveryOptions } from './delivery/durable/durable-options.js';
export type { ChabokStats } from './interfaces/chabok-stats.interface.js';

export { CHABOK_OPTIONS, DEFAULT_INSTALLATION_ID_HEADER, TRACK_EVENT_METADATA } from './chabok.constants.js';
export { DEFAULT_OPTIONS } from './config/resolved-options.js';
export type { ResolvedChabokOptions } from './config/resolved-options.js';
export { EVENT_DATA_LIMITS } from './validation/event-data.js';
export { KEY_TYPE_GUARD_MAX_ENTRIES } from './validation/key-type-guard.js';
export type { KeyTypeGuardMode } from './validation/key-type-guard.js';
export { EVENT_FIELD_LIMITS } from './dto/track-event.dto.js';
