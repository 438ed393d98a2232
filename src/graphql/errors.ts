// Errors as clients see them: every known failure with its extensions.code, BAD_USER_INPUT with its
// issues, and everything unexpected masked (no SQL, stack or internal message leaves the server).
import { BREAK, GraphQLError, Kind, visit, type ASTNode, type DocumentNode } from 'graphql';
import { ConvergeError, ValidationError, type Issue } from '../core/errors.ts';

export const MASKED_MESSAGE = 'Unexpected error.';

/**
 * Thrown by scalars on bad input. graphql-js wraps it (with the variable's path or the literal's
 * location in the message) and keeps its `extensions`, so the client gets BAD_USER_INPUT.
 */
export function inputError(message: string): ValidationError {
  return new ValidationError([{ path: [], message }], message);
}

// graphql-js reports a bad variable as: Variable "$input" got invalid value … at "input.items[1].unitPrice"; …
const VARIABLE_PATH = /^Variable "\$([^"]+)" got invalid value .*? at "([^"]+)"; /s;

function pathOf(printed: string): (string | number)[] {
  return printed
    .split(/\.|(?=\[)/)
    .filter(Boolean)
    .map((part) => (part.startsWith('[') ? Number(part.slice(1, -1)) : part));
}

/** Issues of a bad variable carry the variable's path, which graphql-js only puts in the message. */
export function withVariablePath(message: string, issues: Issue[]): Issue[] {
  const variable = VARIABLE_PATH.exec(message);
  const name = /^Variable "\$([^"]+)"/.exec(message)?.[1];
  const base = variable ? pathOf(variable[2]!) : name ? [name] : [];
  return issues.map((issue) => (issue.path.length === 0 ? { ...issue, path: base } : issue));
}

/**
 * The path of a literal inside its argument (`input.items[1].unitPrice` as ["input", "items", 1,
 * "unitPrice"]), found by walking the document to the node graphql-js reported; [] when not found.
 */
export function literalPath(document: DocumentNode, target: ASTNode): (string | number)[] {
  const found: (string | number)[] = [];
  visit(document, {
    enter(node, _key, parent, path, ancestors) {
      if (node !== target) return undefined;
      // containers[i] holds path[i]; the element there is the next container (or the node itself).
      const containers = [...ancestors, parent!];
      [...containers.slice(1), node].forEach((element, i) => {
        if (Array.isArray(element)) return;
        const { kind } = element as ASTNode;
        if (kind === Kind.ARGUMENT || kind === Kind.OBJECT_FIELD) found.push((element as { name: { value: string } }).name.value);
        else if (Array.isArray(containers[i]) && (containers[i - 1] as ASTNode | undefined)?.kind === Kind.LIST)
          found.push(path[i] as number);
      });
      return BREAK;
    },
  });
  return found;
}

export function maskError(error: unknown): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof ConvergeError) {
    const graphQLError = error instanceof GraphQLError ? error : undefined;
    return new GraphQLError(original.message, {
      nodes: graphQLError?.nodes,
      path: graphQLError?.path,
      extensions: original.extensions,
    });
  }
  // graphql-js's own errors (syntax, validation, variables) are meant for the client as they are.
  if (error instanceof GraphQLError && (!error.originalError || error.originalError instanceof GraphQLError)) {
    return error;
  }
  return new GraphQLError(MASKED_MESSAGE, {
    nodes: error instanceof GraphQLError ? error.nodes : undefined,
    path: error instanceof GraphQLError ? error.path : undefined,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}
