// One typed pubsub for the process. In memory by default; the event target is swappable (Redis) so that
// events published on one instance reach subscribers on every instance.
import { setMaxListeners } from 'node:events';
import { createPubSub, type PubSub, type PubSubEventTarget } from 'graphql-yoga';
import { ownerKey, type Owner } from './access.ts';

export type ConversationEventType =
  | 'CONVERSATION_CREATED'
  | 'CONVERSATION_UPDATED'
  | 'CONVERSATION_DELETED'
  | 'MESSAGE_ADDED'
  | 'MESSAGE_UPDATED';

/** What travels: ids only; subscribers load the current rows so each client's selection applies. */
export type ConversationEventPayload = {
  type: ConversationEventType;
  conversationId: string;
  messageId: string | null;
};

export type Topics = {
  'conversation:events': [conversationId: string, event: ConversationEventPayload];
  'owner:events': [ownerKey: string, event: ConversationEventPayload];
  /** Asks whichever instance runs a generation to abort it. */
  'generation:cancel': [messageId: string];
};

export type AppPubSub = PubSub<Topics>;

export function createAppPubSub(eventTarget: PubSubEventTarget<Topics> = inProcessTarget()): AppPubSub {
  return createPubSub<Topics>({ eventTarget });
}

/**
 * Every subscriber of a topic listens on the one target, and one viewer's sidebars share a topic: Node's
 * warning at 11 listeners of a type would be a false alarm. What bounds them is the per-viewer subscription
 * limits (connection-limits.ts).
 */
function inProcessTarget(): PubSubEventTarget<Topics> {
  const target = new EventTarget();
  setMaxListeners(0, target);
  return target as PubSubEventTarget<Topics>;
}

/** Every change to a conversation goes to its own subscribers and to its owner's sidebar subscribers. */
export function publishConversationEvent(
  pubsub: AppPubSub,
  owner: Owner,
  event: ConversationEventPayload,
): void {
  pubsub.publish('conversation:events', event.conversationId, event);
  pubsub.publish('owner:events', ownerKey(owner), event);
}
