// Input rules shared by the services. Each failure names its input field.
import { invalidField } from './errors.ts';
import type { ModelRegistry } from './models/registry.ts';

export const MAX_TITLE_CHARS = 255;
export const MAX_METADATA_BYTES = 16 * 1024;
export const MAX_IDEMPOTENCY_KEY_CHARS = 255;
export const MAX_LABEL_CHARS = 255; // projectId, agentId, toolCallId

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
  if (!models.has(model)) throw invalidField(field, `unknown model "${model}"; see Query.models`);
}

export function checkIdempotencyKey(key: string | null | undefined): void {
  if (key == null) return;
  if (key === '' || key.length > MAX_IDEMPOTENCY_KEY_CHARS) throw invalidField('idempotencyKey', `must be 1 to ${MAX_IDEMPOTENCY_KEY_CHARS} characters`);
}

export function checkNonNegativeInt(value: number | null | undefined, field: string): void {
  if (value != null && (!Number.isInteger(value) || value < 0)) throw invalidField(field, 'must be a non-negative integer');
}
