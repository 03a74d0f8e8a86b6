// The error codes of the contract, the deliberate errors raised with them, and the masking of the rest.
import { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { PothosValidationError } from '@pothos/core';
import { Prisma } from './generated/prisma/client.ts';

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'GENERATION_IN_PROGRESS'
  | 'RATE_LIMITED'
  | 'PROVIDER_ERROR'
  | 'INTERNAL_SERVER_ERROR';

export type FieldError = { field: string; message: string };

function appError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return createGraphQLError(message, { extensions: { code, ...extensions } });
}

export const badUserInput = (message: string, fieldErrors?: FieldError[]) =>
  appError('BAD_USER_INPUT', message, fieldErrors ? { fieldErrors } : {});

/** For one invalid input field: the message names it and fieldErrors carries it. */
export const invalidField = (field: string, message: string) => badUserInput(`${field}: ${message}`, [{ field, message }]);

export const unauthenticated = (message: string) => appError('UNAUTHENTICATED', message, { http: { status: 401 } });
export const notFound = (what: string) => appError('NOT_FOUND', `${what} not found`);
export const conflict = (message: string) => appError('CONFLICT', message);
export const generationInProgress = () =>
  appError('GENERATION_IN_PROGRESS', 'An assistant reply is already being generated in this conversation');
/** This instance is shutting down: the client should retry (a load balancer sends it elsewhere). */
export const SHUTTING_DOWN = 'This server is shutting down; retry the request';
export const shuttingDown = () => appError('INTERNAL_SERVER_ERROR', SHUTTING_DOWN, { retryable: true, http: { status: 503 } });
/** A limit that is not about time: too many subscriptions on one connection, say. */
export const rateLimitedError = (message: string) => appError('RATE_LIMITED', message, { http: { status: 429 } });
export const rateLimited = (retryAfterSeconds: number, message = 'Too many requests') =>
  appError('RATE_LIMITED', message, { retryAfter: retryAfterSeconds, http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } } });

export function isPrismaError(error: unknown, code: 'P2002' | 'P2025' | 'P2034'): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === code;
}

/** The SQLSTATE PostgreSQL refused a statement with, as Prisma's driver adapter passes it on. */
export function sqlStateOf(error: unknown): string | undefined {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return undefined;
  const code = (error.meta as { driverAdapterError?: { cause?: { originalCode?: unknown } } } | undefined)?.driverAdapterError?.cause?.originalCode;
  return typeof code === 'string' ? code : undefined;
}

/** Structural check: graphql-js can be loaded twice (CJS and ESM copies), which defeats instanceof. */
export function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && error.name === 'GraphQLError';
}

/** The contract code an error of this API carries (`GENERATION_IN_PROGRESS`…), if it is one. */
export function codeOf(error: unknown): string | undefined {
  return isGraphQLError(error) ? (error.extensions.code as string | undefined) : undefined;
}

const CONTRACT_CODES = new Set<string>([
  'BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT',
  'GENERATION_IN_PROGRESS', 'RATE_LIMITED', 'PROVIDER_ERROR', 'INTERNAL_SERVER_ERROR',
]);

/** The same error with these extensions (message, locations and path kept). */
function withExtensions(error: GraphQLError, extensions: GraphQLError['extensions']): GraphQLError {
  // The error's own class: consumers check instanceof against the graphql-js copy that made it.
  const SameGraphQLError = error.constructor as typeof GraphQLError;
  return new SameGraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, extensions });
}

/** The same error with another code (its other extensions kept). */
const withCode = (error: GraphQLError, code: ErrorCode) => withExtensions(error, { ...error.extensions, code });

/** The error without the HTTP status and headers it carries for yoga's HTTP responses (a WebSocket has none). */
export function withoutHttp(error: GraphQLError): GraphQLError {
  if (!error.extensions?.http) return error;
  const { http: _http, ...extensions } = error.extensions;
  return withExtensions(error, extensions);
}

/**
 * Every error leaves with a code of the contract. graphql-js' own request errors (syntax, validation,
 * variable coercion: GRAPHQL_PARSE_FAILED and the like, or none) are the client's: BAD_USER_INPUT.
 */
export function withContractCode(error: GraphQLError): GraphQLError {
  const code = error.extensions?.code;
  if (typeof code === 'string' && CONTRACT_CODES.has(code)) return error;
  const { originalError, ...extensions } = error.extensions ?? {};
  if (originalError === undefined) return withExtensions(error, { ...extensions, code: 'BAD_USER_INPUT' });
  // yoga's detail of a body that is not JSON is the parser's message, which quotes the whole body back (a
  // 2 MiB body, a 2 MiB answer): it goes. Its status (400) is marked `spec`, which yoga heeds for an
  // application/json client only while such a detail is there: without `spec`, it is heeded always.
  const { spec: _spec, ...http } = (extensions.http ?? {}) as Record<string, unknown>;
  return withExtensions(error, { ...extensions, ...(extensions.http ? { http } : {}), code: 'BAD_USER_INPUT' });
}

/**
 * yoga's maskError: deliberate errors pass, client errors raised by graphql-js or Pothos get BAD_USER_INPUT,
 * known Prisma errors their contract code, and anything else becomes INTERNAL_SERVER_ERROR with no detail
 * (logged by the caller with its stack).
 */
export function maskError(error: unknown, message: string): GraphQLError {
  const located = isGraphQLError(error) ? error : null;
  const original = located?.originalError ?? error;
  const path = located?.path;
  if (isGraphQLError(original)) {
    if (original.extensions?.code) return located ?? original;
    return withCode(located ?? original, 'BAD_USER_INPUT'); // a scalar or argument graphql-js refused
  }
  if (original instanceof PothosValidationError) return createGraphQLError(original.message, { path, extensions: { code: 'BAD_USER_INPUT' } });
  if (isPrismaError(original, 'P2025')) return createGraphQLError('Not found', { path, extensions: { code: 'NOT_FOUND' } });
  if (isPrismaError(original, 'P2002')) return createGraphQLError('Conflicting write', { path, extensions: { code: 'CONFLICT' } });
  return createGraphQLError(message, { path, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}
