import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ChabokModule, EventTrackingService, TrackEvent } from '../src/index.js';
import { ChabokStandIn } from '../stand-in/chabok-stand-in.js';

@Controller()
class C {
  @Get('a') @TrackEvent() hello() { return { ok: 1 }; }
}

describe('smoke', () => {
  let standIn: ChabokStandIn;
  let app: INestApplication;
  beforeAll(async () => {
    standIn = await ChabokStandIn.start();
    const mod = await Test.createTestingModule({
      imports: [ChabokModule.forRoot({ baseUrl: standIn.baseUrl, accessToken: standIn.accessToken, flushIntervalMs: 10 })],
      controllers: [C],
    }).compile();
    app = mod.createNestApplication();
    await app.init();
  });
  afterAll(async () => { await app.close(); await standIn.close(); });
  it('works', async () => {
    await request(app.getHttpServer()).get('/a').set('x-chabok-installation-id', 'inst-1').expect(200, { ok: 1 });
    await standIn.waitForEvents(1);
    expect(standIn.events()[0]).toMatchObject({ installationId: 'inst-1', eventName: 'hello' });
    const svc = app.get(EventTrackingService);
    await svc.trackMany([{ userId: 'u', eventName: 'x' }, { userId: 7, eventName: 'y', eventData: { d: new Date(0) } }]);
    console.log(JSON.stringify(standIn.requests.map(r => [r.path, r.raw])), svc.stats());
    await expect(svc.track({ eventName: '' } as any)).rejects.toThrow(/eventName/);
    await svc.track({ eventName: '', foo: 1, eventData: { a: NaN, b: () => 1 } } as any).catch(e => console.log(e.message));
  });
});
