// The pool of connections to a PostgreSQL server, with limits on how long anything may wait on it.
//
// A link that goes silent (a partition, a host gone without a reset, a failover that drops packets) sends
// no error: TCP retransmits for many minutes, and a statement sent on it waits for ever, holding its
// request and its pooled connection. So PostgreSQL is asked to answer every statement within the
// statement timeout (it cancels one that runs longer, and says so), and a connection that has a statement
// out and hears nothing for a little longer than that is taken as lost and dropped: its statement fails,
// and the pool opens a new connection for the next.
import type net from 'node:net';
import pg from 'pg';

export type PoolLimits = {
  /** Connections at most. */
  max: number;
  /** How long PostgreSQL may run one statement (its `statement_timeout`). */
  statementTimeoutMs: number;
  /**
   * Prepared statements are planned once, for any values (a generic plan), and that plan kept. Left to its
   * own choice, PostgreSQL plans each of the first five runs for its values, and then every run where that
   * plan's estimate is the cheaper: for a viewer its statistics do not know yet (any new user, estimated to
   * own one conversation), ten times cheaper. It then planned the sidebar's statement afresh each time, and
   * spent 1,500 µs of its CPU a page on it instead of 830 (bench/RESULTS.md, "Pages"). It applies to every
   * statement on these connections: one whose best plan depends on a value must not leave that to the
   * planner (a list of ids of unknown length: src/loaders.ts; test/query-plans.test.ts checks those plans).
   * Set where statements are prepared (src/row-reads.ts).
   */
  genericPlans: boolean;
};

/** How much longer than the statement timeout a connection may stay silent with a statement out. */
const ANSWER_GRACE_MS = 5_000;

export function openPool(url: string, { max, statementTimeoutMs, genericPlans }: PoolLimits): pg.Pool {
  const silenceLimitMs = statementTimeoutMs + Math.min(ANSWER_GRACE_MS, statementTimeoutMs);
  return new pg.Pool({
    connectionString: url,
    max,
    statement_timeout: statementTimeoutMs,
    ...(genericPlans ? { options: '-c plan_cache_mode=force_generic_plan' } : {}),
    // A session whose instance went silent inside a transaction would hold its row locks, and so stall the
    // other instances' writes to those rows, until TCP gave up on it; PostgreSQL ends it instead.
    idle_in_transaction_session_timeout: 2 * statementTimeoutMs,
    // Opening a connection (its handshake), or waiting for one of the pool's, as long as a statement.
    connectionTimeoutMillis: silenceLimitMs,
    // Probes an idle connection after 10 s of quiet (the system's default waits two hours).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    Client: clientDroppedWhenSilent(silenceLimitMs),
  });
}

/** The driver's client, dropping its connection when it has a statement out and hears nothing for `limitMs`. */
function clientDroppedWhenSilent(limitMs: number): new () => pg.Client {
  return class extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // The first ReadyForQuery comes once TLS and authentication are done: the socket is then the one for good.
      this.connection.once('readyForQuery', () => {
        const socket = this.connection.stream as net.Socket;
        socket.setTimeout(limitMs); // every byte either way restarts it
        socket.on('timeout', () => {
          if (!waitingForAnswer(this)) return; // an idle connection is silent by right
          socket.destroy(new Error(`PostgreSQL sent nothing for ${limitMs} ms with a statement out: the connection is dropped`));
        });
      });
    }
  };
}

/** The driver's own flag: false from sending a statement until PostgreSQL says it is ready for the next. */
const waitingForAnswer = (client: pg.Client) => !(client as pg.Client & { readyForQuery: boolean }).readyForQuery;
