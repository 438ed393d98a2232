// The GraphQL-over-HTTP handler (graphql-yoga): schema, context, error masking, the read-your-writes
// `extensions.consistency`, and GraphiQL served from this process (no CDN).
import { randomUUID } from 'node:crypto';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, isAsyncIterable, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Services } from '../app.ts';
import type { GraphQLContext } from './context.ts';
import { maskError, withVariablePath } from './errors.ts';
import type { Issue } from '../core/errors.ts';
import { GraphQLError } from 'graphql';
import { buildSchema } from './schema.ts';

export const GRAPHQL_PATH = '/graphql';

/** GraphiQL opens on the read-your-writes flow: a command that returns its token and the order after it. */
export const GRAPHIQL_EXAMPLE = `# A mutation is a command. Selecting \`order\` on its payload waits until the
# read model has caught up with this very command (read-your-writes), so the
# order you get back already shows your change.
mutation PlaceOrder {
  createOrder(input: {
    customerId: "customer-1"
    items: [{ productId: "espresso-beans", quantity: 2, unitPrice: "12.50" }]
    shippingAddress: { line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" }
  }) {
    orderId
    version
    consistencyToken
    order { id status itemCount totalAmount createdAt }
  }
}

# Pass the token as \`after:\` to any query to read at least that fresh.
query CustomerOrders($token: ConsistencyToken) {
  customerOrders(customerId: "customer-1", after: $token) {
    total
    items { id status totalAmount }
  }
}
`;

export type ServerContext = { req?: import('node:http').IncomingMessage };

/** Adds `extensions.consistency = { stale: true }` when a read-your-writes wait timed out. */
const useConsistencyExtension = (): Plugin<GraphQLContext> => ({
  onExecute() {
    return {
      onExecuteDone({ args, result, setResult }) {
        if (isAsyncIterable(result) || !(args.contextValue as GraphQLContext).consistency?.stale) return;
        setResult({ ...result, extensions: { ...result.extensions, consistency: { stale: true } } });
      },
    };
  },
});

/** BAD_USER_INPUT from a variable gets the variable's path into its issues (see withVariablePath). */
const useVariableIssuePaths = (): Plugin<GraphQLContext> => ({
  onResultProcess({ result, setResult }) {
    if (Array.isArray(result) || isAsyncIterable(result) || !result.errors?.length) return;
    let changed = false;
    const errors = result.errors.map((error) => {
      const issues = error.extensions?.issues as Issue[] | undefined;
      if (error.extensions?.code !== 'BAD_USER_INPUT' || !issues || !error.message.startsWith('Variable "$')) return error;
      changed = true;
      return new GraphQLError(error.message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        extensions: { ...error.extensions, issues: withVariablePath(error.message, issues) },
      });
    });
    if (changed) setResult({ ...result, errors });
  },
});

export function createGraphQLHandler(options: { services: Services; graphiql: boolean }): YogaServerInstance<ServerContext, GraphQLContext> {
  const { services } = options;
  return createYoga<ServerContext, GraphQLContext>({
    schema: buildSchema(),
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    logging: false,
    maskedErrors: { maskError },
    graphiql: options.graphiql ? { title: 'Converge', defaultQuery: GRAPHIQL_EXAMPLE, subscriptionsProtocol: 'WS' } : false,
    renderGraphiQL,
    context: () => ({
      services,
      // Open development mode: every caller is an admin (authentication comes with JWT_SECRET).
      caller: { userId: null, roles: ['admin'] },
      requestId: randomUUID(),
      consistency: { stale: false },
    }),
    plugins: [useConsistencyExtension(), useVariableIssuePaths()],
  });
}
