// Errors as clients see them: every known failure with its extensions.code, BAD_USER_INPUT with its
// issues, and everything unexpected masked (no SQL, stack or internal message leaves the server).
import { GraphQLError } from 'graphql';
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
