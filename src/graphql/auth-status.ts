// HTTP status for a refused token (GraphQL over HTTP): a request refused before execution for a missing,
// expired or badly signed bearer token answers 401 with `WWW-Authenticate: Bearer` to a client that reads
// application/graphql-response+json; an application/json client keeps 200 (the spec's rule for that type).
// The body is the same either way, `extensions.code` UNAUTHENTICATED included.
import { GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { GraphQLContext } from './context.ts';

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

const matches = (type: string, asked: string) => {
  const [pre, suf] = type.split('/');
  const [askedPre, askedSuf] = asked.split('/');
  return (askedPre === '*' || askedPre === pre) && (askedSuf === '*' || askedSuf === suf);
};

/**
 * The JSON type yoga answers in, chosen as yoga chooses it: the first entry of Accept (utf-8 only) that
 * either type matches, application/json when both do (as for `*\/*`); quality values play no part.
 */
export function answeredJsonType(accept: string | null): string | undefined {
  for (const entry of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [type = '', ...params] = entry.split(';');
    const charset = params.find((p) => p.startsWith('charset='));
    if (charset !== undefined && charset !== 'charset=utf-8') continue;
    if (matches('application/json', type)) return 'application/json';
    if (matches(GRAPHQL_RESPONSE, type)) return GRAPHQL_RESPONSE;
  }
  return undefined;
}

export const useUnauthenticatedStatus = (): Plugin<GraphQLContext> => ({
  onResultProcess({ request, result, setResult }) {
    // Refused before execution: no `data` at all (a refusal inside a resolver keeps its 200).
    if (Array.isArray(result) || isAsyncIterable(result) || 'data' in result) return;
    const refused = (error: GraphQLError) => error.extensions?.code === 'UNAUTHENTICATED';
    if (!result.errors?.some(refused) || answeredJsonType(request.headers.get('accept')) !== GRAPHQL_RESPONSE) return;
    // RFC 6750: a token that came and was refused is an invalid_token; no token gets the bare challenge.
    const challenge = request.headers.has('authorization') ? 'Bearer error="invalid_token"' : 'Bearer';
    const errors = result.errors.map((error) =>
      refused(error)
        ? new GraphQLError(error.message, {
            nodes: error.nodes,
            path: error.path,
            extensions: { ...error.extensions, http: { status: 401, headers: { 'www-authenticate': challenge } } },
          })
        : error,
    );
    setResult({ ...result, errors });
  },
});
