// The Inventory domain's GraphQL face: Product, its queries, and the admin mutations. Resolvers only
// parse, dispatch and shape.
import { SYSTEM_CALLER } from '../core/caller.ts';
import type { CommandResult } from '../core/command-handler.ts';
import { perBuilder, type Builder } from '../graphql/builder.ts';
import { dispatchCommand, withoutNulls } from '../graphql/commands.ts';
import { readAfter } from '../graphql/consistency.ts';
import { pageType } from '../graphql/page.ts';
import { queriesOf, type GraphQLContext } from '../graphql/context.ts';
import { ANY_ROW, liveSources, watchLive } from '../graphql/live-sources.ts';
import { PRODUCTS_PROJECTION } from './read-models/products.ts';
import type { ProductCommand } from './decider.ts';
import { productAggregate } from './product-aggregate.ts';
import type { ProductQueries } from './module.ts';
import type { ProductView } from './read-models/products.ts';

/** The Product type, for other modules' faces. */
export const productTypes = perBuilder((builder) => ({ ProductRef: builder.objectRef<ProductView>('Product') }));

const queries = (ctx: GraphQLContext) => queriesOf<ProductQueries>(ctx);
const dispatch = (ctx: GraphQLContext, type: ProductCommand['type'], input: object) =>
  dispatchCommand(ctx, productAggregate.inputs, type, input);

/** What live queries of products watch: one product ('product:<sku>'), or the list (ANY_ROW). */
const productKey = (sku: string) => `product:${sku}`;

export function inventoryGraphQL(builder: Builder): void {
  const { ProductRef } = productTypes(builder);
  // An advance of `products` lists every stream it passed over (orders' too): the products among them changed.
  liveSources(builder).push({
    projection: PRODUCTS_PROJECTION,
    async keys(services, ids, at) {
      const skus = await queriesOf<ProductQueries>({ services }).execute(
        'knownSkus',
        { skus: [...ids] },
        { caller: SYSTEM_CALLER, consistency: { after: at } },
      );
      return skus.length === 0 ? [] : [ANY_ROW, ...skus.map(productKey)];
    },
  });
  ProductRef.implement({
    fields: (t) => ({
      sku: t.exposeID('sku'),
      name: t.exposeString('name'),
      onHand: t.exposeInt('onHand'),
      reserved: t.exposeInt('reserved', { description: 'Units set aside for orders that have not shipped.' }),
      available: t.exposeInt('available', { description: 'onHand - reserved; never below 0.' }),
      version: t.exposeInt('version'),
      updatedAt: t.field({ type: 'DateTime', resolve: (p) => p.updatedAt }),
    }),
  });

  const ProductPageRef = pageType(builder, 'ProductPage', ProductRef);

  const ProductPayloadRef = builder.objectRef<CommandResult>('ProductPayload').implement({
    description: 'What every product mutation returns.',
    fields: (t) => ({
      sku: t.field({ type: 'ID', resolve: (r) => r.streamId }),
      version: t.exposeInt('version', { description: "The product stream's version after the command." }),
      consistencyToken: t.field({ type: 'ConsistencyToken', resolve: (r) => r.consistencyToken }),
      product: t.field({
        type: ProductRef,
        nullable: true,
        description: 'The read model, resolved only when selected, once it has caught up with consistencyToken.',
        resolve: (r, _args, ctx) => readAfter(ctx, r.position, (q) => queries(ctx).execute('product', { sku: r.streamId }, q)),
      }),
    }),
  });

  const CreateProductInput = builder.inputType('CreateProductInput', {
    fields: (t) => ({
      commandId: t.id(),
      sku: t.id({ required: true }),
      name: t.string({ required: true }),
      onHand: t.int({ required: true }),
    }),
  });

  const RestockProductInput = builder.inputType('RestockProductInput', {
    fields: (t) => ({
      commandId: t.id(),
      sku: t.id({ required: true }),
      expectedVersion: t.int(),
      quantity: t.int({ required: true }),
    }),
  });

  builder.queryFields((t) => ({
    product: t.field({
      type: ProductRef,
      nullable: true,
      args: { sku: t.arg.id({ required: true }), after: t.arg({ type: 'ConsistencyToken' }) },
      resolve: (_root, args, ctx) => {
        watchLive(ctx, PRODUCTS_PROJECTION, productKey(args.sku));
        return readAfter(ctx, args.after, (q) => queries(ctx).execute('product', { sku: args.sku }, q));
      },
    }),
    products: t.field({
      type: ProductPageRef,
      args: { page: t.arg.int({ defaultValue: 1 }), pageSize: t.arg.int({ defaultValue: 20 }), after: t.arg({ type: 'ConsistencyToken' }) },
      resolve: (_root, { after, ...args }, ctx) => {
        watchLive(ctx, PRODUCTS_PROJECTION, ANY_ROW);
        return readAfter(ctx, after, (q) => queries(ctx).execute('products', withoutNulls(args), q));
      },
    }),
  }));

  builder.mutationFields((t) => ({
    createProduct: t.field({
      type: ProductPayloadRef,
      description: 'Admin only.',
      args: { input: t.arg({ type: CreateProductInput, required: true }) },
      resolve: (_root, { input }, ctx) => dispatch(ctx, 'CreateProduct', input),
    }),
    restockProduct: t.field({
      type: ProductPayloadRef,
      description: 'Admin only.',
      args: { input: t.arg({ type: RestockProductInput, required: true }) },
      resolve: (_root, { input }, ctx) => dispatch(ctx, 'RestockProduct', input),
    }),
  }));
}
