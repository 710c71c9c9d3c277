import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { ChabokModule } from 'nestjs-chabok';
import { CartController } from './cart.controller.js';
import { chabokConfig } from './chabok.config.js';
import { FakeAuthMiddleware } from './fake-auth.middleware.js';
import { OrdersController } from './orders.controller.js';
import { ProductsController } from './products.controller.js';

@Module({
  imports: [
    ConfigModule.forRoot(),
    ChabokModule.forRootAsync({
      imports: [ConfigModule.forFeature(chabokConfig)],
      inject: [chabokConfig.KEY],
      useFactory: (config: ConfigType<typeof chabokConfig>) => config,
    }),
  ],
  controllers: [ProductsController, CartController, OrdersController],
})
export class AppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(FakeAuthMiddleware).forRoutes(ProductsController, CartController, OrdersController);
  }
}
