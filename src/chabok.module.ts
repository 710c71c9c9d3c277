import { Module } from '@nestjs/common';
import { CHABOK_OPTIONS } from './chabok.constants.js';
import { ChabokConfigurableModule } from './chabok.module-definition.js';
import { chabokProviders } from './chabok.providers.js';
import { EventTrackingService } from './services/event-tracking.service.js';

/**
 * Tracks user events in Chabok. Import it once, in the root module.
 *
 * @example
 * @Module({ imports: [ChabokModule.forRoot({ appId: 'myapp', accessToken: process.env.CHABOK_ACCESS_TOKEN })] })
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
  providers: chabokProviders(),
  exports: [EventTrackingService, CHABOK_OPTIONS],
})
export class ChabokModule extends ChabokConfigurableModule {}
