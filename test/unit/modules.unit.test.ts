// The module contract at start-up: two modules that declare the same projection, event type, command or
// query refuse to start, with one line naming both; the service's own modules declare each once.
import { describe, expect, it } from 'vitest';
import { assertDistinctModules, type DomainModule, ModuleConflictError } from '../../src/core/module.ts';
import { MODULES } from '../../src/modules.ts';
import { createServices } from '../../src/services.ts';
import { inventoryModule } from '../../src/inventory/module.ts';
import { ordersModule } from '../../src/orders/module.ts';

const renamed = (module: DomainModule, name: string): DomainModule => ({ ...module, name });

describe('modules declared at start-up', () => {
  it("the service's modules declare every name once", () => {
    expect(() => assertDistinctModules(MODULES.map((m) => m.module))).not.toThrow();
  });

  it.each([
    [
      'a projection',
      { ...renamed(inventoryModule, 'billing'), projections: [ordersModule.projections[0]!], events: {}, aggregates: [], queries: {} },
      /^projection orders is declared by module orders and by module billing$/,
    ],
    [
      'an event type',
      { ...renamed(inventoryModule, 'billing'), projections: [], events: { OrderShipped: { version: 1 } }, aggregates: [], queries: {} },
      /^event type OrderShipped is declared by module orders and by module billing$/,
    ],
    [
      'a command',
      { ...renamed(inventoryModule, 'billing'), projections: [], events: {}, aggregates: ordersModule.aggregates, queries: {} },
      /^command CreateOrder is declared by module orders and by module billing$/,
    ],
    [
      'a query',
      {
        ...renamed(inventoryModule, 'billing'),
        projections: [],
        events: {},
        aggregates: [],
        queries: { order: ordersModule.queries.order },
      },
      /^query order is declared by module orders and by module billing$/,
    ],
    [
      'a module name',
      { ...inventoryModule, name: 'orders', projections: [], events: {}, aggregates: [], queries: {} },
      /^two modules are named orders$/,
    ],
  ])('two modules declaring %s refuse to start, naming both', (_what, other, message) => {
    const error = (() => {
      try {
        createServices(undefined as never, {
          modules: [ordersModule, other as DomainModule],
          runProjections: false,
          consistencyTimeoutMs: 1,
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ModuleConflictError);
    expect((error as Error).message).toMatch(message);
  });
});
