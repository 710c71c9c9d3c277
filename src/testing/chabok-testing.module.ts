import { Module, type DynamicModule } from '@nestjs/common';
import type { TestingModuleBuilder } from '@nestjs/testing';
import { CHABOK_DELIVERY, CHABOK_OPTIONS } from '../chabok.constants.js';
import { CHABOK_MODULE_OPTIONS } from '../chabok.module-definition.js';
import { chabokProviders } from '../chabok.providers.js';
import { validateOptions } from '../config/validate-options.js';
import type { ChabokModuleOptions } from '../interfaces/chabok-options.interface.js';
import { EventTrackingService } from '../services/event-tracking.service.js';
import { ChabokRecorder } from './chabok-recorder.js';

/** Stand-in connection settings: never used for I/O, only to pass option validation. */
const OFFLINE = { baseUrl: 'http://127.0.0.1:9/chabok-testing', accessToken: 'chabok-testing' } as const;

/**
 * Replaces `ChabokModule` in your tests: same service, decorator, interceptor and
 * validation, but events go to an in-memory {@link ChabokRecorder}. No network I/O.
 * Global, so feature modules resolve `EventTrackingService` without importing anything.
 *
 * @example
 * const moduleRef = await Test.createTestingModule({
 *   imports: [ChabokTestingModule.forRoot()],
 *   controllers: [CartController],
 * }).compile();
 * const recorder = moduleRef.get(ChabokRecorder);
 */
@Module({})
export class ChabokTestingModule {
  static forRoot(
    options: Omit<ChabokModuleOptions, 'appId' | 'environment' | 'baseUrl' | 'accessToken'> = {},
  ): DynamicModule {
    return {
      module: ChabokTestingModule,
      global: true,
      providers: [
        { provide: CHABOK_MODULE_OPTIONS, useValue: { ...options, ...OFFLINE, enabled: true, dryRun: false } },
        ...chabokProviders(ChabokRecorder),
        { provide: ChabokRecorder, useExisting: CHABOK_DELIVERY },
      ],
      exports: [EventTrackingService, CHABOK_OPTIONS, ChabokRecorder],
    };
  }
}

/**
 * Keeps your real `ChabokModule.forRoot(...)` but swaps its delivery for a recorder, for
 * tests of the whole AppModule. Read the recorder with {@link getChabokRecorder}.
 *
 * @example
 * const moduleRef = await overrideChabok(Test.createTestingModule({ imports: [AppModule] })).compile();
 * const recorder = getChabokRecorder(moduleRef);
 */
export function overrideChabok(builder: TestingModuleBuilder): TestingModuleBuilder {
  return builder
    .overrideProvider(CHABOK_DELIVERY)
    .useClass(ChabokRecorder)
    .overrideProvider(CHABOK_OPTIONS)
    .useFactory({
      // The app's own options, validated as usual; recording is forced on even when the app
      // runs with enabled: false (e.g. CHABOK_ENABLED=false in CI) or dryRun.
      factory: (raw: ChabokModuleOptions) => ({ ...validateOptions(raw), enabled: true, dryRun: false }),
      inject: [CHABOK_MODULE_OPTIONS],
    });
}

/**
 * The recorder of an app built with {@link overrideChabok} or {@link ChabokTestingModule}.
 *
 * @example
 * const recorder = getChabokRecorder(app);
 */
export function getChabokRecorder(app: { get(token: string, options: { strict: false }): unknown }): ChabokRecorder {
  const delivery = app.get(CHABOK_DELIVERY, { strict: false });
  if (!(delivery instanceof ChabokRecorder)) {
    throw new Error(
      'This app delivers to Chabok for real: build it with overrideChabok(...) or ChabokTestingModule.forRoot()',
    );
  }
  return delivery;
}
