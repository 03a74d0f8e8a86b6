// Global IDs are base64 of `Type:id`. Decoding accepts only the node types of this API and ids of the
// shape this server makes (uuids), so a forged id is refused as bad input before it reaches a query.
import { PothosValidationError } from '@pothos/core';
import { decodeGlobalID as decodeAnyGlobalID } from '@pothos/plugin-relay';
import { shownText } from './text-cut.ts';

export const NODE_TYPES = new Set(['Conversation', 'Message', 'ChatSession']);
/** Ids are uuids (36 characters); room for the system prompt's pseudo-message id as well. */
const MAX_ID_CHARS = 64;

/** Base64 of the longest type, a colon and the longest id: longer is refused before it is decoded (each field given a 2 MB one decoded it again). */
const MAX_GLOBAL_ID_CHARS = 4 * Math.ceil((Math.max(...[...NODE_TYPES].map((type) => type.length)) + 1 + MAX_ID_CHARS) / 3);

const shown = (globalID: string) => shownText(globalID, 80);

export function decodeGlobalId(globalID: string): { typename: string; id: string } {
  if (globalID.length > MAX_GLOBAL_ID_CHARS) throw new PothosValidationError(`Invalid global ID (longer than any ID of this API): ${shown(globalID)}`);
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeAnyGlobalID(globalID);
  } catch {
    throw new PothosValidationError(`Invalid global ID: ${shown(globalID)}`);
  }
  if (!NODE_TYPES.has(decoded.typename)) throw new PothosValidationError(`Not an ID of this API (unknown type ${shownText(decoded.typename, 40)}): ${shown(globalID)}`);
  if (decoded.id.length > MAX_ID_CHARS || decoded.id.includes('\0')) throw new PothosValidationError(`Invalid global ID: ${shown(globalID)}`);
  return decoded;
}
