/**
 * DI tokens and metadata keys. They are namespaced strings, not Symbols, so that a
 * CommonJS and an ESM copy of the library (or two copies in a monorepo) agree on them.
 */

/**
 * Validated, defaulted module options (see {@link ResolvedChabokOptions}).
 *
 * @example
 * constructor(@Inject(CHABOK_OPTIONS) options: ResolvedChabokOptions) {}
 */
export const CHABOK_OPTIONS = 'chabok:options';

/** The delivery pipeline the service hands events to (see {@link EventDelivery}). */
export const CHABOK_DELIVERY = 'chabok:delivery';

/** The wire transport the pipeline sends batches through (see {@link ChabokTransport}). */
export const CHABOK_TRANSPORT = 'chabok:transport';

/** The @nestjs/axios HttpService instance private to this module. */
export const CHABOK_HTTP = 'chabok:http';

/**
 * Metadata key written by `@TrackEvent()`.
 *
 * @example
 * const meta = reflector.get(TRACK_EVENT_METADATA, handler); // { name, identity, data, when }
 */
export const TRACK_EVENT_METADATA = 'chabok:track-event';

/** Logger context used for everything the library logs. */
export const CHABOK_LOGGER_CONTEXT = 'Chabok';

/**
 * Request header the default identity resolver reads an installation id from.
 *
 * @example
 * curl -H 'x-chabok-installation-id: device-1' ...   // becomes installationId
 */
export const DEFAULT_INSTALLATION_ID_HEADER = 'x-chabok-installation-id';

/** Production and sandbox hosts, from Chabok's API guide. */
export const SANDBOX_BASE_URL = 'https://sandbox.push.adpdigital.com/api';
export const productionBaseUrl = (appId: string): string => `https://${appId}.push.adpdigital.com/api`;
