// The publisher's own logic against an in-memory broker that keeps the rule JetStream keeps for it (a
// message is stored only right after the one it names): what it skips after a failure or a restart, the
// chain of ids it sends, the CloudEvents it builds, and the tenant attribute where tenancy is on.
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/messages.ts';
import { encodeToken } from '../../src/core/position.ts';
import { definePublicEvents, publicationsOf } from '../../src/core/public-events.ts';
import { type IntegrationBroker, type IntegrationMessage, runAsPublisher } from '../../src/core/publisher.ts';
import type { StepContext } from '../../src/core/sql-projection.ts';

type Thing = { type: 'ThingMade'; data: { id: string; secret: string } };

const publicEvents = definePublicEvents<Thing>()({ ThingMade: { name: 'made', version: 2, data: ({ data }) => ({ id: data.id }) } });
const publications = publicationsOf([{ name: 'things', publicEvents }]);

const event = (n: number, streamId = 's-1'): StoredEvent<Thing> => ({
  type: 'ThingMade',
  data: { id: `t-${n}`, secret: 'x' },
  tenant: 'default',
  streamId,
  streamType: 'Thing',
  version: n,
  schemaVersion: 1,
  metadata: {},
  position: { tx: 100n, pos: BigInt(n) },
  createdAt: '2026-01-01T00:00:00.000Z',
});

/** Stores a message only after the one it names (as Nats-Expected-Last-Msg-Id makes JetStream do); fails the n-th publish on request. */
class MemoryBroker implements IntegrationBroker {
  readonly stored: IntegrationMessage[] = [];
  readonly calls: { ids: string[]; previous: string | null }[] = [];
  failAt: number | undefined;
  async lastPublished() {
    return this.stored.at(-1)?.id ?? null;
  }
  async publish(messages: readonly IntegrationMessage[], previous: string | null) {
    this.calls.push({ ids: messages.map((m) => m.id), previous });
    let before = previous;
    for (const message of messages) {
      if (this.stored.length === this.failAt) throw new Error('lost on the way');
      if ((this.stored.at(-1)?.id ?? null) !== before) throw new Error('wrong last msg ID');
      this.stored.push(message);
      before = message.id;
    }
  }
}

const step = {} as StepContext;
const ids = (events: StoredEvent[]) => events.map((e) => encodeToken(e.position));

describe('publisher', () => {
  it("publishes CloudEvents whose id is the position, chained to the stream's last message", async () => {
    const broker = new MemoryBroker();
    const publisher = runAsPublisher(publications, broker);
    await publisher.apply([event(1), event(2)], step);
    await publisher.apply([event(3)], step);
    expect(broker.calls).toEqual([
      { ids: ids([event(1), event(2)]), previous: null },
      { ids: ids([event(3)]), previous: encodeToken(event(2).position) },
    ]);
    expect(broker.stored.map((m) => m.subject)).toEqual(['converge.things.made', 'converge.things.made', 'converge.things.made']);
    expect(JSON.parse(broker.stored[0]!.body)).toEqual({
      specversion: '1.0',
      id: encodeToken(event(1).position),
      source: '/converge/things',
      type: 'converge.thing.made.v2',
      subject: 's-1',
      time: '2026-01-01T00:00:00.000Z',
      datacontenttype: 'application/json',
      data: { id: 't-1' },
    });
  });

  it('after a failed publish, asks the broker where the stream ends and sends only what it lacks', async () => {
    const broker = new MemoryBroker();
    const publisher = runAsPublisher(publications, broker);
    broker.failAt = 2;
    const batch = [event(1), event(2), event(3), event(4)];
    await expect(publisher.apply(batch, step)).rejects.toThrow('lost on the way');
    broker.failAt = undefined;
    await publisher.apply(batch, step); // the runner tries the same batch again: its checkpoint did not move
    expect(broker.stored.map((m) => m.id)).toEqual(ids(batch));
    expect(broker.calls.at(-1)).toEqual({ ids: ids([event(3), event(4)]), previous: encodeToken(event(2).position) });
  });

  it('a new publisher (a restart) whose checkpoint is behind the stream skips what the stream holds', async () => {
    const broker = new MemoryBroker();
    await runAsPublisher(publications, broker).apply([event(1), event(2), event(3)], step);
    const restarted = runAsPublisher(publications, broker);
    await restarted.apply([event(1), event(2)], step);
    await restarted.apply([event(3), event(4)], step);
    expect(broker.stored.map((m) => m.id)).toEqual(ids([event(1), event(2), event(3), event(4)]));
    expect(broker.calls.slice(1)).toEqual([{ ids: ids([event(4)]), previous: encodeToken(event(3).position) }]);
  });

  it('refuses a stream whose last message it did not write', async () => {
    const broker = new MemoryBroker();
    broker.stored.push({ id: 'someone-else', subject: 'converge.things.made', body: '{}' });
    await expect(runAsPublisher(publications, broker).apply([event(1)], step)).rejects.toThrow(
      /not an event position: only Converge may write/,
    );
  });

  it('puts the tenant on each message where tenancy is on', async () => {
    const broker = new MemoryBroker();
    await runAsPublisher(publications, broker, { tenantOf: (e) => `tenant-of-${e.streamId}` }).apply([event(1)], step);
    expect(JSON.parse(broker.stored[0]!.body)).toMatchObject({ tenant: 'tenant-of-s-1' });
  });

  it("refuses modules whose public events would share a subject or take the dead letters' one", () => {
    expect(() => publicationsOf([{ name: 'dead', publicEvents }])).toThrow(/cannot publish events/);
    expect(() =>
      publicationsOf([
        {
          name: 'things',
          publicEvents: { A: { name: 'made', version: 1, data: () => ({}) }, B: { name: 'made', version: 1, data: () => ({}) } },
        },
      ]),
    ).toThrow(/two public events of module things are named made/);
  });
});
