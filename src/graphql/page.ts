// A page of a list (items, total, page, pageSize, totalPages), the same shape for every list the API pages.
import type { ObjectRef } from '@pothos/core';
import type { Page } from '../core/input-fields.ts';
import type { Builder, Types } from './builder.ts';

export function pageType<T>(builder: Builder, name: string, item: ObjectRef<Types, T>) {
  return builder.objectRef<Page<T>>(name).implement({
    fields: (t) => ({
      items: t.field({ type: [item], resolve: (p) => p.items }),
      total: t.exposeInt('total'),
      page: t.exposeInt('page'),
      pageSize: t.exposeInt('pageSize'),
      totalPages: t.exposeInt('totalPages'),
    }),
  });
}
