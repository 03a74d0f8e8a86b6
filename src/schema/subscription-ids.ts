// The IDs in a subscription's arguments are declared as plain IDs and decoded here, once, when the
// stream opens. Declared as t.globalID, Pothos would decode them again before every call of the field's
// resolver, and a subscription's resolver runs for every event: for a streamed reply, every token.
import { PothosValidationError } from '@pothos/core';
import { decodeGlobalId } from '../global-ids.ts';

/** The id inside a global ID of `typename`; refused as t.globalID({ for }) refuses it (BAD_USER_INPUT). */
export function idOf(globalID: string | number, typename: string): string {
  const decoded = decodeGlobalId(String(globalID));
  if (decoded.typename !== typename) throw new PothosValidationError(`ID: ${globalID} is not of type: ${typename}`);
  return decoded.id;
}
