// What to tell a user about a failed operation: the server's message, and its contract code.
import { CombinedGraphQLErrors } from '@apollo/client/errors';

export function errorCode(error: unknown): string | undefined {
  return CombinedGraphQLErrors.is(error) ? (error.errors[0]?.extensions?.code as string | undefined) : undefined;
}

export function describeError(error: unknown): string {
  if (errorCode(error) === 'RATE_LIMITED') return 'Too many requests: wait a moment and try again.';
  if (CombinedGraphQLErrors.is(error)) return error.errors[0]?.message ?? 'The server refused the request.';
  return 'The server cannot be reached.';
}
