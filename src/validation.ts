// Input rules shared by the services. Each failure names its input field.
import { invalidField } from './errors.ts';
import type { ModelRegistry } from './models/registry.ts';
import { shownText } from './text-cut.ts';

export const MAX_TITLE_CHARS = 255;
export const MAX_METADATA_BYTES = 16 * 1024;
export const MAX_IDEMPOTENCY_KEY_CHARS = 255;
export const MAX_LABEL_CHARS = 255; // projectId, agentId, toolCallId

/**
 * A filter's list of enum values, each kept once and sorted (null when empty), so that the same filter is
 * the same statement and cache key. A list longer than the enum has no use: refused, as each alias of a
 * field would carry it into a statement and a cache key.
 */
export function distinctValues<T extends string>(values: readonly T[] | null | undefined, valueCount: number, field: string): T[] | null {
  if (!values?.length) return null;
  if (values.length > valueCount) throw invalidField(field, `must list at most ${valueCount} values, each once`);
  return [...new Set(values)].sort();
}

export function checkTitle(title: string | null | undefined, field = 'title'): void {
  if (title != null && [...title].length > MAX_TITLE_CHARS) throw invalidField(field, `must be at most ${MAX_TITLE_CHARS} characters`);
}

export function checkLabel(value: string | null | undefined, field: string): void {
  if (value == null) return;
  if (value === '') throw invalidField(field, 'must not be empty');
  if (value.length > MAX_LABEL_CHARS) throw invalidField(field, `must be at most ${MAX_LABEL_CHARS} characters`);
}

/** Metadata: a JSON object of at most 16 KiB serialised. */
export function checkMetadata(metadata: unknown, field = 'metadata'): Record<string, unknown> {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw invalidField(field, 'must be a JSON object');
  if (Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES) throw invalidField(field, 'must be at most 16 KiB serialised');
  return metadata as Record<string, unknown>;
}

export function checkContent(content: string, maxChars: number, field = 'content'): void {
  if (content.length > maxChars) throw invalidField(field, `must be at most ${maxChars} characters`);
}

export function checkModel(models: ModelRegistry, model: string, field = 'model'): void {
  if (!models.has(model)) throw invalidField(field, `unknown model "${shownText(model, 100)}"; see Query.models`);
}

export function checkIdempotencyKey(key: string | null | undefined): void {
  if (key == null) return;
  if (key === '' || key.length > MAX_IDEMPOTENCY_KEY_CHARS) throw invalidField('idempotencyKey', `must be 1 to ${MAX_IDEMPOTENCY_KEY_CHARS} characters`);
}

/** The most tokens one message may claim: far above what any model's context holds. */
export const MAX_MESSAGE_TOKENS = 10_000_000;

export function checkTokenCount(value: number | null | undefined, field = 'tokens'): void {
  if (value != null && (!Number.isInteger(value) || value < 0 || value > MAX_MESSAGE_TOKENS)) {
    throw invalidField(field, `must be an integer from 0 to ${MAX_MESSAGE_TOKENS}`);
  }
}

/** The largest GraphQL Int: counters beyond it are shown saturated rather than failing the response. */
export const MAX_GRAPHQL_INT = 2_147_483_647;

export const saturatedInt = (value: number | bigint): number => (value > MAX_GRAPHQL_INT ? MAX_GRAPHQL_INT : Number(value));

/**
 * A count reported by a model provider, trusted only as far as it is a count: a non-negative integer no
 * larger than one message may claim; anything else is unknown.
 */
export function reportedCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_MESSAGE_TOKENS ? value : undefined;
}
