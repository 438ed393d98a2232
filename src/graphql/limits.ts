// Query limits, checked before execution (HTTP and WebSocket alike, since both run through yoga's
// envelop): depth ≤ 10, aliases ≤ 20, directives ≤ 20, tokens ≤ 2,000 (graphql-armor); no circular
// introspection; introspection and field suggestions only where configured.
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const LIMITS = { depth: 10, aliases: 20, directives: 20, tokens: 2000 } as const;

const limitErrors = new WeakSet<GraphQLError>();

function limitError(message: string): GraphQLError {
  const error = new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  limitErrors.add(error);
  return error;
}

/**
 * A query over a limit gets that one error: the rest of what validation found (a hundred repeated
 * directives each reported, say) is noise the limit already explains.
 */
const useLimitErrorAlone = (): Plugin => ({
  onValidate() {
    return ({ valid, result, setResult }) => {
      if (valid) return;
      const limit = result.find((error) => limitErrors.has(error));
      if (limit && result.length > 1) setResult([limit]);
    };
  },
});

/** Walks every operation's selections through its fragments (a cycle, invalid anyway, is cut). */
function walker(context: ValidationContext, field: (name: string, below: () => number) => number) {
  const walk = (selectionSet: SelectionSetNode, seen: Set<string>): number => {
    let max = 0;
    for (const selection of selectionSet.selections) {
      let value = 0;
      if (selection.kind === Kind.FIELD) {
        const sub = selection.selectionSet;
        value = field(selection.name.value, () => (sub ? walk(sub, seen) : 0));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        value = walk(selection.selectionSet, seen);
      } else {
        const name = selection.name.value;
        const fragment: FragmentDefinitionNode | null | undefined = context.getFragment(name);
        if (fragment && !seen.has(name)) value = walk(fragment.selectionSet, new Set([...seen, name]));
      }
      max = Math.max(max, value);
    }
    return max;
  };
  return walk;
}

const NESTING = new Set(['fields', 'inputFields', 'interfaces', 'possibleTypes']);

/**
 * Refuses introspection that nests fields, inputFields, interfaces or possibleTypes inside one another
 * (each level multiplies the response). The standard introspection query never does.
 */
export const noCircularIntrospectionRule: ValidationRule = (context) => {
  const walk = walker(context, (name, below) => (NESTING.has(name) ? 1 : 0) + below());
  return {
    OperationDefinition(operation) {
      if (walk(operation.selectionSet, new Set()) > 1) {
        context.reportError(
          limitError('Circular introspection (fields, inputFields, interfaces or possibleTypes nested in one another) is not allowed.'),
        );
      }
    },
  };
};

/**
 * graphql-armor's rules throw (a "Syntax Error: …") by default; reporting makes them ordinary
 * validation errors, which every transport already answers properly (400 over HTTP).
 */
const reportInstead = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(limitError(error.message.replace(/^Syntax Error: /, ''))),
  ],
};

const useValidationRules = (rules: ValidationRule[]): Plugin => ({
  onValidate({ addValidationRule }) {
    for (const rule of rules) addValidationRule(rule);
  },
});

/**
 * Drops "Did you mean …?" from validation errors. New error objects rather than edited ones (as
 * graphql-armor's block-field-suggestions does): validation results are cached and may be shared.
 */
const useNoFieldSuggestions = (): Plugin => ({
  onValidate() {
    return ({ valid, result, setResult }) => {
      if (valid) return;
      setResult(
        result.map((error) =>
          /Did you mean/.test(error.message)
            ? new GraphQLError(error.message.replace(/\s*Did you mean .+\?/g, ''), {
                nodes: error.nodes,
                source: error.source,
                positions: error.positions,
                extensions: error.extensions,
              })
            : error,
        ),
      );
    };
  },
});

export function limitPlugins(options: { introspection: boolean }): Plugin[] {
  return [
    maxTokensPlugin({ n: LIMITS.tokens, exposeLimits: true }) as Plugin,
    // allowList: [] counts `__typename` aliases too (the plugin lets them through by default).
    maxAliasesPlugin({ n: LIMITS.aliases, exposeLimits: true, allowList: [], ...reportInstead }) as Plugin,
    maxDirectivesPlugin({ n: LIMITS.directives, exposeLimits: true, ...reportInstead }) as Plugin,
    // Introspection under __schema is not counted (its nesting is bounded by the circular rule below);
    // fragments add no level of their own.
    maxDepthPlugin({ n: LIMITS.depth, ignoreIntrospection: true, flattenFragments: true, exposeLimits: true, ...reportInstead }) as Plugin,
    useValidationRules([noCircularIntrospectionRule, ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule])]),
    useLimitErrorAlone(),
    // "Did you mean …?" hints describe the schema: they go with introspection.
    ...(options.introspection ? [] : [useNoFieldSuggestions()]),
  ];
}
