import { HttpService } from '@nestjs/axios';
import { isAxiosError } from 'axios';
import { firstValueFrom } from 'rxjs';
import type { ResolvedChabokOptions } from '../config/resolved-options.js';
import type { ChabokEndpoint } from '../interfaces/chabok-event.interface.js';
import type { ChabokTransport, TransportOutcome } from '../interfaces/event-delivery.interface.js';

/** Bodies are kept to this many characters in errors and logs. */
const MAX_BODY_CHARS = 2_000;

/**
 * Posts pre-serialised JSON to Chabok through @nestjs/axios. The HttpService wraps this
 * module's own axios instance (keep-alive agents, timeout, base URL, token header), so a
 * user's own HttpModule configuration and interceptors never see the token.
 */
export class ChabokHttpTransport implements ChabokTransport {
  constructor(
    private readonly http: HttpService,
    private readonly options: ResolvedChabokOptions,
  ) {}

  async send(endpoint: ChabokEndpoint, body: string, signal?: AbortSignal): Promise<TransportOutcome> {
    try {
      const res = await firstValueFrom(
        this.http.post<string>(`${this.options.baseUrl}/${endpoint}`, body, {
          headers: { 'Content-Type': 'application/json', 'X-Access-Token': this.options.accessToken },
          // The body is already JSON; axios would otherwise JSON.parse it again to "check" it.
          transformRequest: [(data: string) => data],
          responseType: 'text',
          transformResponse: [(data: string) => data],
          validateStatus: () => true,
          maxRedirects: 0, // a redirect could carry the token to another host
          signal,
        }),
      );
      const retryAfter = res.headers['retry-after'];
      return {
        kind: 'response',
        status: res.status,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
        body: typeof res.data === 'string' ? res.data.slice(0, MAX_BODY_CHARS) : '',
      };
    } catch (error) {
      // Network-level failure: timeout, reset, refused. Only the code and a message without
      // the request config (which holds the token header) leave this function.
      const code = isAxiosError(error) ? (error.code ?? 'ERR_NETWORK') : 'ERR_UNKNOWN';
      const message = error instanceof Error ? error.message.slice(0, 200) : String(error);
      return { kind: 'network', code, message };
    }
  }

  /** Closes the keep-alive sockets. The pipeline calls it after its shutdown drain. */
  close(): void {
    const { httpAgent, httpsAgent } = this.http.axiosRef.defaults;
    (httpAgent as { destroy?: () => void } | undefined)?.destroy?.();
    (httpsAgent as { destroy?: () => void } | undefined)?.destroy?.();
  }
}
