// Every schema module registers its types on the builder when imported; the order is the dependency order.
import { builder } from '../builder.ts';
import './viewer.ts';
import './tools.ts';
import './conversation.ts';
import './message.ts';
import './chat-session.ts';
import './append-message.ts';
import './generation.ts';
import './branches.ts';
import './events.ts';

export const schema = builder.toSchema();
