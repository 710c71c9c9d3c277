import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Injectable, Logger, type CallHandler, type ExecutionContext, type Provider, type Type } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import type { Observable } from 'rxjs';
import {
  CHABOK_DELIVERY,
  CHABOK_HTTP,
  CHABOK_LOGGER_CONTEXT,
  CHABOK_OPTIONS,
  CHABOK_TRANSPORT,
} from './chabok.constants.js';
import { CHABOK_MODULE_OPTIONS } from './chabok.module-definition.js';
import type { ResolvedChabokOptions } from './config/resolved-options.js';
import { validateOptions } from './config/validate-options.js';
import { BatchingDelivery } from './delivery/batching-delivery.js';
import { DryRunTransport } from './delivery/dry-run-transport.js';
import { ChabokHttpTransport } from './delivery/http-transport.js';
import { TrackEventInterceptor } from './interceptors/track-event.interceptor.js';
import type { ChabokModuleOptions } from './interfaces/chabok-options.interface.js';
import type { ChabokTransport, EventDelivery } from './interfaces/event-delivery.interface.js';
import { EventTrackingService } from './services/event-tracking.service.js';

/** The globally mounted copy; steps aside when `mountInterceptor: false`. */
@Injectable()
export class GlobalTrackEventInterceptor extends TrackEventInterceptor {
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

function createTransport(options: ResolvedChabokOptions, http: HttpService): ChabokTransport {
  return options.dryRun
    ? new DryRunTransport(options, new Logger(CHABOK_LOGGER_CONTEXT))
    : new ChabokHttpTransport(http, options);
}

/** The in-memory engine by default; BullMQ-backed in durable mode (bullmq loaded only then). */
async function createDelivery(options: ResolvedChabokOptions, transport: ChabokTransport): Promise<EventDelivery> {
  if (!options.durable) return new BatchingDelivery(options, transport);
  const { createDurableDelivery } = await import('./delivery/durable/create-durable-delivery.js');
  return createDurableDelivery(options, transport);
}

/**
 * Everything ChabokModule provides, with the delivery engine as a parameter so the testing
 * module can put an in-memory recorder in its place and keep the rest identical.
 */
export function chabokProviders(delivery?: Type<EventDelivery>): Provider[] {
  return [
    {
      provide: CHABOK_OPTIONS,
      useFactory: (raw: ChabokModuleOptions) => validateOptions(raw),
      inject: [CHABOK_MODULE_OPTIONS],
    },
    { provide: CHABOK_HTTP, useFactory: createHttpService, inject: [CHABOK_OPTIONS] },
    { provide: CHABOK_TRANSPORT, useFactory: createTransport, inject: [CHABOK_OPTIONS, CHABOK_HTTP] },
    delivery
      ? { provide: CHABOK_DELIVERY, useClass: delivery }
      : { provide: CHABOK_DELIVERY, useFactory: createDelivery, inject: [CHABOK_OPTIONS, CHABOK_TRANSPORT] },
    EventTrackingService,
    { provide: APP_INTERCEPTOR, useClass: GlobalTrackEventInterceptor },
  ];
}
