import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { ChabokModule, EventTrackingService, TrackEvent } from '../../src/index.js';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';

interface ChatMessage {
  userId: string;
  text: string;
}

/** A user's gateway: in WebSocket handlers, args are [client, data, ...]; result is what the handler returned. */
@WebSocketGateway()
class ChatGateway {
  @SubscribeMessage('say')
  @TrackEvent({
    name: 'chatMessage',
    identity: (_ctx, args) => ({ userId: (args[1] as ChatMessage).userId }),
    data: (_ctx, _args, result: { data: { length: number } }) => ({ length: result.data.length }),
  })
  say(@MessageBody() body: ChatMessage) {
    return { event: 'said', data: { length: body.text.length } };
  }

  @SubscribeMessage('bare')
  @TrackEvent()
  bare() {
    return { event: 'bared', data: 'ok' };
  }

  @SubscribeMessage('fail')
  @TrackEvent({ identity: { userId: 'u-fail' } })
  fail() {
    throw new WsException('nope');
  }
}

describe('@TrackEvent() on a WebSocket gateway (@nestjs/platform-ws)', () => {
  let standIn: ChabokStandIn;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    standIn = await ChabokStandIn.start();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChabokModule.forRoot({ baseUrl: standIn.baseUrl, accessToken: standIn.accessToken, flushIntervalMs: 5 }),
      ],
      providers: [ChatGateway],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `ws://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app.close();
    await standIn.close();
  });

  /** Sends one message and collects replies until `count` arrive (or 1 s passes). */
  async function exchange(messages: object[], count: number): Promise<unknown[]> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const replies: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000);
      socket.on('message', (raw) => {
        replies.push(JSON.parse(String(raw)));
        if (replies.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    for (const m of messages) socket.send(JSON.stringify(m));
    await done;
    socket.close();
    return replies;
  }

  it('tracks a message handler with identity and data from [client, data] and the result; the reply is unchanged', async () => {
    const replies = await exchange([{ event: 'say', data: { userId: 'u-1', text: 'hello' } }], 1);
    expect(replies).toEqual([{ event: 'said', data: { length: 5 } }]);
    await standIn.waitForEvents(1);
    expect(standIn.events()).toEqual([
      expect.objectContaining({ userId: 'u-1', eventName: 'chatMessage', eventData: { length: 5 } }),
    ]);
  });

  it('skips (without breaking the gateway) when no identity is given, and sends nothing for a throwing handler', async () => {
    standIn.reset();
    const replies = await exchange(
      [{ event: 'bare' }, { event: 'fail' }, { event: 'say', data: { userId: 'u-2', text: 'after' } }],
      3,
    );
    expect(replies).toEqual(
      expect.arrayContaining([
        { event: 'bared', data: 'ok' },
        { event: 'said', data: { length: 5 } },
        expect.objectContaining({ event: 'exception' }),
      ]),
    );
    await standIn.waitForEvents(1);
    await app.get(EventTrackingService).flush();
    expect(standIn.events().map((e) => e.eventName)).toEqual(['chatMessage']);
  });
});
