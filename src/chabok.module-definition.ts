import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ChabokModuleOptions } from './interfaces/chabok-options.interface.js';

/**
 * Extras every forRoot / forRootAsync call takes besides the options themselves.
 *
 * @example
 * ChabokModule.forRoot({ appId: 'myapp', accessToken, isGlobal: true });
 */
export interface ChabokModuleExtras {
  /** Register the module globally, so feature modules can inject EventTrackingService without importing it. */
  isGlobal?: boolean;
}

export const {
  ConfigurableModuleClass: ChabokConfigurableModule,
  MODULE_OPTIONS_TOKEN: CHABOK_MODULE_OPTIONS,
  OPTIONS_TYPE: CHABOK_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: CHABOK_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ChabokModuleOptions>({
  moduleName: 'Chabok',
  optionsInjectionToken: 'chabok:module-options',
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createChabokOptions')
  .setExtras<ChabokModuleExtras>({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

/**
 * What `useClass` / `useExisting` in `forRootAsync` must implement.
 *
 * @example
 * @Injectable() class ChabokConfig implements ChabokOptionsFactory {
 *   createChabokOptions() { return { appId: 'myapp', accessToken: process.env.CHABOK_ACCESS_TOKEN! }; }
 * }
 */
export interface ChabokOptionsFactory {
  createChabokOptions(): ChabokModuleOptions | Promise<ChabokModuleOptions>;
}
