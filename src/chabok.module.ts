import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Injectable, Module, type ExecutionContext, type CallHandler } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import type { Observable } from 'rxjs';
import { CHABOK_DELIVERY, CHABOK_HTTP, CHABOK_OPTIONS, CHABOK_TRANSPORT } from './chabok.constants.js';
import { CHABOK_MODULE_OPTIONS, ChabokConfigurableModule } from './chabok.module-definition.js';
import type { ResolvedChabokOptions } from './config/resolved-options.js';
import { validateOptions } from './config/validate-options.js';
import { BatchingDelivery } from './delivery/batching-delivery.js';
import { ChabokHttpTransport } from './delivery/http-transport.js';
import { TrackEventInterceptor } from './interceptors/track-event.interceptor.js';
import type { ChabokModuleOptions } from './interfaces/chabok-options.interface.js';
import { EventTrackingService } from './services/event-tracking.service.js';

/** The globally mounted copy; steps aside when `mountInterceptor: false`. */
@Injectable()
class GlobalTrackEventInterceptor extends TrackEventInterceptor {
  override intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return this.options.mountInterceptor ? super.intercept(context, next) : next.handle();
  }
}

/** This module's own axios instance: keep-alive sockets, and the timeout from the options. */
function createHttpService(options: ResolvedChabokOptions): HttpService {
  return new HttpService(
    axios.create({
      timeout: options.timeoutMs,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: options.maxConcurrentRequests }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: options.maxConcurrentRequests }),
    }),
  );
}

/**
 * Tracks user events in Chabok. Import it once, in the root module.
 *
 * @example
 * @Module({ imports: [ChabokModule.forRoot({ appId: 'myapp', accessToken: process.env.CHABOK_ACCESS_TOKEN! })] })
 * export class AppModule {}
 *
 * @example
 * ChabokModule.forRootAsync({
 *   imports: [ConfigModule.forFeature(chabokConfig)],
 *   inject: [chabokConfig.KEY],
 *   useFactory: (config: ConfigType<typeof chabokConfig>) => config,
 * })
 */
@Module({
  providers: [
    { provide: CHABOK_OPTIONS, useFactory: (raw: ChabokModuleOptions) => validateOptions(raw), inject: [CHABOK_MODULE_OPTIONS] },
    { provide: CHABOK_HTTP, useFactory: createHttpService, inject: [CHABOK_OPTIONS] },
    { provide: CHABOK_TRANSPORT, useClass: ChabokHttpTransport },
    { provide: CHABOK_DELIVERY, useClass: BatchingDelivery },
    EventTrackingService,
    { provide: APP_INTERCEPTOR, useClass: GlobalTrackEventInterceptor },
  ],
  exports: [EventTrackingService, CHABOK_OPTIONS],
})
export class ChabokModule extends ChabokConfigurableModule {}
